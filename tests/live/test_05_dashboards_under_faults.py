"""The panels empty_panels.yaml lists with a fault show data once that fault is on.

Runs after the alert tests: Redis down makes the gateway refuse every request, which would burn the
payment availability SLO before the alert tests could measure their own fault.
"""

from __future__ import annotations

import pytest

from obsctl import faults
from tests.live.helpers import Live, eventually
from tests.live.test_03_dashboards import empty_panels, panel_shows_data

FAULTED = sorted({e["fault"] for e in empty_panels().values() if e.get("fault")})


@pytest.mark.slow
@pytest.mark.parametrize("fault", FAULTED)
def test_panels_a_fault_lights_up(live: Live, fault: str) -> None:
    keys = {k for k, e in empty_panels().items() if e.get("fault") == fault}
    print(faults.set_fault(live.stack, fault, "on"))
    try:
        for dashboard, panel in sorted(keys):
            eventually(
                f"{dashboard} / {panel} with {fault} on",
                lambda d=dashboard, p=panel: panel_shows_data(live.prom, d, p),  # type: ignore[misc]
                timeout_s=120,
                interval_s=5,
            )
    finally:
        print(faults.set_fault(live.stack, fault, "off"))
