"""One real local stack for every live test: all components, the generated rules and routing,
background traffic from the Locust load generator.

Started once for the tests/live package through the same Stack API as `obsctl up`, in a temporary
state directory, and stopped at the end. Modules run in file-name order: the checks that need a
healthy stack first (catalog, rules, dashboards), the faults last.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from obsctl.generate import conventions
from obsctl.run import faults
from obsctl.run.load.run import LoadProcess
from obsctl.run.prometheus_api import PrometheusAPI
from obsctl.run.stack.stack import Stack
from tests.live.helpers import Live, eventually

# Background traffic: 10 simulated users at 2 requests/s each (payments, refunds, reads 16:2:2).
LOAD_USERS = 10
LOAD_USER_RATE = 2.0
# The SLI the stack is ready for once it has a value: traffic has reached the gateway, Prometheus
# scraped it and evaluated the generated recording rules at least twice.
READY_QUERY = f'{conventions.sli_error_record("5m")}{{{conventions.LABEL_ID}="gateway-payment-availability"}}'


@pytest.fixture(scope="package")
def live() -> Iterator[Live]:
    state = Path(tempfile.mkdtemp(prefix="obsctl-live-"))
    state.chmod(0o755)  # PostgreSQL runs as `postgres` when the tests run as root
    stack = Stack(state)
    load: LoadProcess | None = None
    try:
        env = stack.up()
        prom = PrometheusAPI(env["PROMETHEUS_URL"])
        load = LoadProcess(env, users=LOAD_USERS, user_rate=LOAD_USER_RATE, duration_s=3600)
        started = time.time()
        eventually("traffic measured by the generated SLO rules", lambda: prom.query(READY_QUERY), 180)
        yield Live(stack=stack, env=env, prom=prom, load=load, started=started)
    finally:
        # Each step on its own: whatever fails, everything started is stopped.
        if load is not None:
            with contextlib.suppress(Exception):
                load.stop()
        with contextlib.suppress(Exception):  # a failed start may leave nothing to clear
            faults.clear(stack)
        stack.down()
        if not os.environ.get("OBSCTL_KEEP_TEST_STATE"):
            shutil.rmtree(state, ignore_errors=True)
