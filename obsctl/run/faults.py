"""Real faults for the running local stack: switches in the simulated provider, stopped processes.

Used by people (`obsctl fault ...`), by `make demo` and by the live alert tests. Each fault is
real: a channel fault changes what the provider answers; a process fault stops the process (risk,
Redis, the Kafka broker) and `off` starts it again on the same port.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import requests

from obsctl.errors import ObsctlError
from obsctl.run import internal_secret
from obsctl.run.stack.stack import Stack


@dataclass(frozen=True)
class Fault:
    name: str
    description: str
    # A channel fault sets `setting` in the provider's /v1/faults to the value; "on" means `on_value`.
    setting: str | None = None
    on_value: float = 1.0
    # A process fault stops this stack component.
    component: str | None = None

    @property
    def takes_value(self) -> bool:
        return self.setting is not None


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("channel-declines", "the provider declines payments (share 0..1)", setting="decline_rate"),
        Fault("channel-errors", "the provider answers 5xx (share 0..1)", setting="error_rate"),
        Fault(
            "channel-timeouts", "the provider does not answer in time (share 0..1)", setting="timeout_rate"
        ),
        Fault("channel-latency", "the provider's median latency in ms", setting="latency_ms", on_value=1500),
        Fault("risk-down", "the risk service is stopped", component="risk"),
        Fault("redis-down", "Redis is stopped", component="redis"),
        Fault("kafka-down", "the Kafka-protocol broker (tansu) is stopped", component="tansu"),
    )
}


def _fault(name: str) -> Fault:
    try:
        return FAULTS[name]
    except KeyError:
        raise ObsctlError(f"unknown fault {name!r}; expected one of: {', '.join(FAULTS)}") from None


def _channel_url(stack: Stack) -> str:
    server = stack.server("channel")
    if not server.running():
        raise ObsctlError("the channel service is not running: start the stack with `make up`")
    return server.url


def _operator(stack: Stack) -> requests.auth.AuthBase:
    # The fault switches accept only signed calls; the tooling signs as `operator`.
    return internal_secret.operator_auth(stack.state_dir)


def channel_settings(stack: Stack) -> dict[str, float]:
    response = requests.get(f"{_channel_url(stack)}/v1/faults", auth=_operator(stack), timeout=5)
    response.raise_for_status()
    return dict(response.json())


def parse_value(fault: Fault, raw: str) -> float:
    """'on' / 'off' or a number; a share must lie in 0..1."""
    if raw == "on":
        return fault.on_value
    if raw == "off":
        return 0.0
    if not fault.takes_value:
        raise ObsctlError(f"fault {fault.name} takes on or off, not {raw!r}")
    try:
        value = float(raw)
    except ValueError:
        raise ObsctlError(f"fault {fault.name}: expected on, off or a number, got {raw!r}") from None
    if fault.setting and fault.setting.endswith("_rate") and not 0 <= value <= 1:
        raise ObsctlError(f"fault {fault.name}: a share between 0 and 1 was expected, got {raw}")
    if value < 0:
        raise ObsctlError(f"fault {fault.name}: expected a non-negative number, got {raw}")
    return value


def _require_running(stack: Stack) -> None:
    if not stack.running():
        raise ObsctlError(f"the local stack in {stack.state_dir} is not running: start it with `make up`")


def set_fault(stack: Stack, name: str, raw: str) -> str:
    """Apply the fault; returns a one-line description of the new state."""
    fault = _fault(name)
    value = parse_value(fault, raw)
    _require_running(stack)
    if fault.setting:
        # An "off" latency fault restores the provider's default latency, not zero latency.
        if fault.setting == "latency_ms" and value == 0:
            defaults = requests.get(
                f"{_channel_url(stack)}/v1/faults/defaults", auth=_operator(stack), timeout=5
            )
            value = float(defaults.json()["latency_ms"]) if defaults.ok else 0.0
        response = requests.put(
            f"{_channel_url(stack)}/v1/faults", json={fault.setting: value}, auth=_operator(stack), timeout=5
        )
        if not response.ok:
            raise ObsctlError(f"the channel refused {fault.setting}={value}: {response.text.strip()}")
        return f"{fault.name}: {fault.setting}={value:g}"
    assert fault.component is not None
    if value:
        stack.down([fault.component])
        return f"{fault.name}: {fault.component} stopped"
    stack.up([fault.component])
    return f"{fault.name}: {fault.component} running"


def state(stack: Stack) -> list[tuple[Fault, str]]:
    """Every fault with its current state, for `obsctl fault list`."""
    settings: dict[str, float] | None
    try:
        settings = channel_settings(stack)
    except (ObsctlError, requests.RequestException):
        settings = None
    _require_running(stack)
    running = set(stack.running())
    out = []
    for fault in FAULTS.values():
        if fault.setting:
            current = (
                "unknown (channel not running)" if settings is None else f"{settings.get(fault.setting)}"
            )
        else:
            current = "off" if fault.component in running else "ON (stopped)"
        out.append((fault, current))
    return out


def clear(stack: Stack) -> list[str]:
    """Restore everything: reset the provider's switches and start stopped components."""
    _require_running(stack)
    done = []
    if stack.server("channel").running():
        requests.delete(
            f"{_channel_url(stack)}/v1/faults", auth=_operator(stack), timeout=5
        ).raise_for_status()
        done.append("channel faults reset")
    # Only components this stack ran before (it remembers their ports): clear never starts new ones.
    ran = set(_remembered_ports(stack))
    fault_components = {f.component for f in FAULTS.values() if f.component}
    stopped = [c for c in fault_components if c in ran and not stack.server(c).running()]
    if stopped:
        stack.up(stopped)
        done.append(f"started {', '.join(sorted(stopped))}")
    return done


def _remembered_ports(stack: Stack) -> dict[str, int]:
    """<state>/run/ports.json: the port of every component the stack has run (kept after a stop)."""
    try:
        return dict(json.loads((stack.run_dir / "ports.json").read_text()))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
