"""Service configuration, read from environment variables; the request budget's default is the
service's budget_ms in the catalog (observability/catalog.yaml)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar, overload

import catalog

T = TypeVar("T")


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
    """This hop's own deadline in ms: REQUEST_BUDGET_MS, else the service's budget_ms in the catalog."""
    declared = catalog.default().services.get(service)
    if declared is None:
        raise ConfigError(f"service {service!r} is not in the catalog ({catalog.DEFAULT_PATH})")
    return env("REQUEST_BUDGET_MS", declared.budget_ms, int)
