"""The bench's log levers (LOG_LEVERS in obsctl/run/telemetry/bench.py) do what their names say.

A process started as the stack starts a service, with a configuration's variables over it, writes
one INFO and one WARNING line through the services' logging setup and exits (the SDK flushes its
log exporter at exit) against a real OTLP receiver: sampled_10 exports both lines,
sampled_10_otlp_warnings only the warning, sampled_10_no_otlp_logs neither. The JSON lines on
stderr are the same in every case."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from obsctl import paths
from obsctl.run.stack.services import service_environment, venv_bin
from obsctl.run.telemetry import bench
from obsctl.run.telemetry.otlp_sink import OtlpSink

PROBE = (
    "import logging; from apps.common import logs; logs.configure('channel'); "
    "probe = logging.getLogger('probe'); probe.info('probe info'); probe.warning('probe warning')"
)


@pytest.fixture
def sink() -> Iterator[OtlpSink]:
    receiver = OtlpSink().start()
    yield receiver
    receiver.stop()


def _run(config: bench.Config, sink: OtlpSink, tmp_path: Path) -> tuple[list[str], list[str]]:
    """(the messages the receiver got, the messages written to stderr as JSON lines)"""
    env = service_environment("channel", stack_env={}, multiproc_dir=tmp_path, caller_env={})
    env.update(bench._service_variables(config, sink.endpoint), OTEL_TRACES_EXPORTER="none")
    done = subprocess.run(
        [str(venv_bin() / "opentelemetry-instrument"), str(venv_bin() / "python"), "-c", PROBE],
        env=env, cwd=paths.REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    exported = [str(record.body) for record in sink.logs() if record.scope == "probe"]
    written = []
    for line in done.stderr.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("name") == "probe":
                written.append(entry["message"])
    return exported, written


@pytest.mark.parametrize(
    ("name", "exported"),
    [
        ("sampled_10", ["probe info", "probe warning"]),
        ("sampled_10_otlp_warnings", ["probe warning"]),
        ("sampled_10_no_otlp_logs", []),
    ],
)
def test_a_log_lever_changes_what_is_exported_and_nothing_on_stderr(
    name: str, exported: list[str], sink: OtlpSink, tmp_path: Path
) -> None:
    config = next(c for c in (*bench.CONFIGS, *bench.LEVERS) if c.name == name)
    got, written = _run(config, sink, tmp_path)
    assert sorted(got) == exported
    assert written == ["probe info", "probe warning"]


def test_the_log_levers_are_measured_against_sampled_10_at_its_sampling() -> None:
    assert bench.LOG_LEVERS
    for lever in bench.LOG_LEVERS:
        assert lever.lever_of == bench.SAMPLED_10.name
        assert lever.sampling == bench.SAMPLED_10.sampling
        assert lever in bench.LEVERS
