"""One instrumented local stack for the telemetry and metrics tests: the services export through
the stack's collector (the generated collector/local.yaml) into Jaeger and VictoriaLogs."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.telemetry.stack_harness import TelemetryStack


def state_dir(prefix: str) -> Path:
    # PostgreSQL runs as the `postgres` user when the tests run as root: it must enter the directory.
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def telemetry_stack() -> Iterator[TelemetryStack]:
    directory = state_dir("obsctl-telemetry-")
    # The `baggage` request header becomes a server-span attribute, so the tests can see what
    # baggage crossed each hop (and prove no secret is in it).
    running = TelemetryStack.start(
        directory, OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST="baggage"
    )
    yield running
    running.stop()
    if not os.environ.get("OBSCTL_KEEP_TEST_STATE"):
        shutil.rmtree(directory, ignore_errors=True)
