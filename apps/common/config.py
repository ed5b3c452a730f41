"""Service configuration, read from environment variables only."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar, overload

T = TypeVar("T")

# Each hop's own deadline (the seed documents' tiered timeouts), overridable by REQUEST_BUDGET_MS.
DEFAULT_BUDGET_MS = {
    "gateway": 10_000,
    "payment": 5_000,
    "account": 2_000,
    "risk": 1_000,
    "channel": 3_000,
    "notification": 2_000,
}


class ConfigError(RuntimeError):
    """A required variable is missing or malformed; the message names it."""


@overload
def env(name: str, default: str | None = None) -> str: ...
@overload
def env(name: str, default: T, cast: Callable[[str], T]) -> T: ...


def env(name: str, default: Any = None, cast: Callable[[str], Any] = str) -> Any:
    """A variable's value, cast; its default when unset; a ConfigError naming it when required."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        if default is None:
            raise ConfigError(f"environment variable {name} is required")
        return default
    try:
        return cast(raw)
    except ValueError as exc:
        raise ConfigError(f"environment variable {name}={raw!r} is invalid: {exc}") from exc


def service_name() -> str:
    return env("SERVICE_NAME", os.environ.get("OTEL_SERVICE_NAME", "unknown"))


def budget_ms(service: str) -> int:
    return env("REQUEST_BUDGET_MS", DEFAULT_BUDGET_MS.get(service, 5_000), int)
