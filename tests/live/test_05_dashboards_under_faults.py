"""The panels empty_panels.yaml lists with a fault show data once that fault is on.

Runs after the alert tests: Redis down makes the gateway refuse every request, which would burn the
payment availability SLO before the alert tests could measure their own fault.
"""

from __future__ import annotations

import time

import pytest

from obsctl.run import faults
from tests.live.helpers import Live
from tests.live.test_03_dashboards import dark_panels, empty_panels

FAULTED = sorted({e["fault"] for e in empty_panels().values() if e.get("fault")})


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTED)
def test_panels_a_fault_lights_up(live: Live, fault: str) -> None:
    wanted = {k for k, e in empty_panels().items() if e.get("fault") == fault}
    print(faults.set_fault(live.stack, fault, "on"))
    dark: list[str] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            dark = dark_panels(live.prom, wanted)
            if not dark:
                return
            time.sleep(5)
    finally:
        print(faults.set_fault(live.stack, fault, "off"))
    pytest.fail(f"still without data with {fault} on:\n" + "\n".join(dark))
