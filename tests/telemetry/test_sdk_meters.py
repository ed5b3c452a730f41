"""The services' SDK meters are disabled (OTEL_PYTHON_METER_CONFIGURATOR=disabled, pyproject's entry
point for the SDK's disabling configurator): no exporter reads them, and every Flask and urllib3
call would otherwise record into them. Checked in a process started as the stack starts a service."""

from __future__ import annotations

import subprocess
from pathlib import Path

from obsctl.run.stack.services import service_environment, venv_bin

# A meter created after start-up, as the Flask instrumentation creates its own when the app is made.
# `_is_enabled` is the SDK's (private) switch: with no metric reader there is nothing public to read.
PROBE = (
    "from opentelemetry import metrics; "
    "h = metrics.get_meter('probe').create_histogram('probe.duration'); "
    "print('enabled' if h._is_enabled() else 'disabled')"
)


def _meters(tmp_path: Path, **variables: str) -> str:
    env = service_environment("channel", stack_env={}, multiproc_dir=tmp_path, caller_env={})
    env.update(variables, OTEL_TRACES_EXPORTER="none", OTEL_LOGS_EXPORTER="none")
    done = subprocess.run(
        [str(venv_bin() / "opentelemetry-instrument"), str(venv_bin() / "python"), "-c", PROBE],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    # A configurator that fails to load is only a warning from the SDK: it must not be there.
    assert "meter configurator" not in done.stderr, done.stderr
    return done.stdout.strip()


def test_the_stack_starts_services_with_the_sdk_meters_disabled(tmp_path: Path) -> None:
    assert _meters(tmp_path) == "disabled"


def test_without_the_setting_the_sdk_meters_record(tmp_path: Path) -> None:
    assert _meters(tmp_path, OTEL_PYTHON_METER_CONFIGURATOR="") == "enabled"
