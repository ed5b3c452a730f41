"""The fault switches: decline, error and timeout rates and the latency distribution.

The starting values come from the environment (CHANNEL_DECLINE_RATE, CHANNEL_ERROR_RATE,
CHANNEL_TIMEOUT_RATE, CHANNEL_LATENCY_MS, CHANNEL_LATENCY_SIGMA); PUT /v1/faults changes them at
runtime and DELETE /v1/faults puts them back. channel_fault_active{fault} is 1 while a fault is on:
decline, error, timeout when their rate is above zero, latency when the distribution differs from
the configured baseline.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field, ValidationError

from apps.common import metrics
from apps.common.config import ConfigError, env
from apps.common.validation import StrictModel, describe

Rate = Annotated[float, Field(ge=0, le=1)]

FAULT_NAMES = ("decline", "error", "timeout", "latency")


@dataclass(frozen=True)
class Switches:
    decline_rate: float = 0.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    latency_ms: float = 20.0  # median of the lognormal latency
    latency_sigma: float = 0.4  # sigma of the underlying normal; 0 gives a constant latency

    @classmethod
    def from_env(cls) -> Switches:
        """The starting switches from CHANNEL_<SWITCH> variables, checked like a PUT body."""
        defaults = cls()
        values = {
            name: env(f"CHANNEL_{name.upper()}", getattr(defaults, name), float)
            for name in cls.__dataclass_fields__
        }
        try:
            SwitchUpdate.model_validate(values)
        except ValidationError as exc:
            name, message = describe(exc)
            raise ConfigError(
                f"environment variable CHANNEL_{name.upper()}={values[name]}: {message}"
            ) from None
        return cls(**values)

    def as_json(self) -> dict[str, float]:
        return dataclasses.asdict(self)


class SwitchUpdate(StrictModel):
    """PUT /v1/faults: any subset of the switches."""

    decline_rate: Rate | None = None
    error_rate: Rate | None = None
    timeout_rate: Rate | None = None
    latency_ms: Annotated[float, Field(ge=0, le=60_000)] | None = None
    latency_sigma: Annotated[float, Field(ge=0, le=3)] | None = None


class FaultState:
    """The current switches, shared by the process's threads."""

    def __init__(self, baseline: Switches):
        self.baseline = baseline
        self._current = baseline
        self._lock = threading.Lock()
        self._gauge = metrics.gauge("channel_fault_active")
        self._publish()

    def current(self) -> Switches:
        return self._current  # immutable: a reader sees one consistent set

    def update(self, change: SwitchUpdate) -> Switches:
        values: dict[str, Any] = change.model_dump(exclude_none=True)
        with self._lock:
            self._current = dataclasses.replace(self._current, **values)
            self._publish()
            return self._current

    def reset(self) -> Switches:
        with self._lock:
            self._current = self.baseline
            self._publish()
            return self._current

    def active(self) -> dict[str, bool]:
        s, b = self._current, self.baseline
        return {
            "decline": s.decline_rate > 0,
            "error": s.error_rate > 0,
            "timeout": s.timeout_rate > 0,
            "latency": (s.latency_ms, s.latency_sigma) != (b.latency_ms, b.latency_sigma),
        }

    def _publish(self) -> None:
        for name, on in self.active().items():
            self._gauge.labels(name).set(1 if on else 0)
