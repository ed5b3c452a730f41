"""`obsctl fault` and `obsctl load` as people run them, against the running stack (OBSCTL_LOCAL
points them at the live tests' state directory)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests

from obsctl.run import faults, internal_secret
from tests.live.helpers import Live, eventually

OBSCTL = str(Path(sys.executable).with_name("obsctl"))


def obsctl(live: Live | None, *args: str, state: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OBSCTL_LOCAL": state or str(live.stack.state_dir if live else "")}
    return subprocess.run([OBSCTL, *args], env=env, capture_output=True, text=True, timeout=120, check=False)


def channel_switches(live: Live) -> dict[str, float]:
    return faults.channel_settings(live.stack)


@pytest.mark.slow
def test_fault_list_shows_every_fault_and_its_state(live: Live) -> None:
    result = obsctl(live, "fault", "list")
    assert result.returncode == 0, result.stderr
    for name in faults.FAULTS:
        assert re.search(rf"^{re.escape(name)}\s", result.stdout, re.M), result.stdout
    assert re.search(r"^kafka-down\s+off\b", result.stdout, re.M), result.stdout


@pytest.mark.slow
def test_load_command_sends_signed_traffic(live: Live) -> None:
    result = obsctl(live, "load", "--rate", "10", "--duration", "6")
    assert result.returncode == 0, result.stderr
    sent = re.search(r"load: (\d+) requests", result.stdout)
    assert sent and int(sent.group(1)) > 0, result.stdout
    assert "POST /api/v1/payments" in result.stdout
    errors = re.search(r"errors ([\d.]+)%", result.stdout)
    # Signed correctly and within the merchant's limit: failures would be 401s or 429s.
    assert errors and float(errors.group(1)) < 5.0, result.stdout


@pytest.mark.slow
def test_channel_fault_with_a_value_and_off(live: Live) -> None:
    result = obsctl(live, "fault", "set", "channel-latency", "250")
    assert result.returncode == 0, result.stderr
    assert channel_switches(live)["latency_ms"] == 250
    # The fault switches take only signed calls (the operator's token), like obsctl fault itself.
    operator = internal_secret.operator_auth(live.stack.state_dir)
    defaults = requests.get(f"{live.env['CHANNEL_URL']}/v1/faults/defaults", auth=operator, timeout=5)
    default = defaults.json()["latency_ms"]
    assert obsctl(live, "fault", "set", "channel-latency", "off").returncode == 0
    assert channel_switches(live)["latency_ms"] == default
    assert obsctl(live, "fault", "set", "channel-declines", "0.25").returncode == 0
    assert channel_switches(live)["decline_rate"] == 0.25
    result = obsctl(live, "fault", "clear")
    assert result.returncode == 0 and "channel faults reset" in result.stdout, result.stdout
    assert channel_switches(live)["decline_rate"] == 0


@pytest.mark.slow
def test_process_fault_stops_and_clear_restarts_on_the_same_port(live: Live) -> None:
    risk = live.stack.server("risk")
    port = risk.port
    result = obsctl(live, "fault", "set", "risk-down", "on")
    assert result.returncode == 0, result.stderr
    assert not live.stack.server("risk").running()
    listed = obsctl(live, "fault", "list").stdout
    assert re.search(r"^risk-down\s+ON", listed, re.M), listed
    result = obsctl(live, "fault", "clear")
    assert result.returncode == 0 and "started risk" in result.stdout, result.stdout + result.stderr
    assert live.stack.server("risk").running()
    assert live.stack.server("risk").port == port
    assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
    # And payment uses it again: its circuit breaker towards risk closes once calls succeed.
    eventually(
        "payment's circuit breaker towards risk closed",
        lambda: live.prom.scalar('max(circuit_breaker_state{job="payment",dependency="risk"})') == 0,
        timeout_s=120,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("fault", "set", "no-such-fault", "on"), "no-such-fault"),
        (("fault", "set", "channel-errors", "1.5"), "between 0 and 1"),
        (("fault", "set", "channel-errors", "lots"), "expected on, off or a number"),
        (("fault", "set", "channel-latency", "-5"), "non-negative"),
        (("fault", "set", "kafka-down", "0.5"), "takes on or off"),
        (("load", "--rate", "0"), "--rate"),
    ],
)
def test_bad_fault_or_load_arguments_exit_2_with_a_clear_message(
    live: Live, args: tuple[str, ...], message: str
) -> None:
    result = obsctl(live, *args)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_fault_list_without_a_running_stack_is_a_clear_error() -> None:
    with tempfile.TemporaryDirectory() as empty:
        result = obsctl(None, "fault", "list", state=empty)
    assert result.returncode == 2, result.stdout
    assert "make up" in result.stderr and "Traceback" not in result.stderr
