"""Shared by the live tests: the running stack's handles and a polling helper."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from obsctl.errors import ObsctlError
from obsctl.run.load.run import LoadProcess
from obsctl.run.prometheus_api import PrometheusAPI
from obsctl.run.stack.stack import Stack

T = TypeVar("T")


@dataclass
class Live:
    stack: Stack
    env: dict[str, str]
    prom: PrometheusAPI
    load: LoadProcess
    started: float  # unix seconds, when the background traffic began

    @property
    def alerts_log(self) -> Path:
        return Path(self.env["ALERTS_LOG"])


def eventually(what: str, check: Callable[[], T | None], timeout_s: float, interval_s: float = 2.0) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    error = ""
    while time.monotonic() < deadline:
        try:
            last = check()
        except ObsctlError as exc:  # Prometheus still starting (503), a component restarting
            last = None
            error = str(exc)
        else:
            error = ""
        if last:
            return last
        time.sleep(interval_s)
    if error:
        pytest.fail(f"{what}: not seen within {timeout_s:.0f}s (last error: {error})")
    pytest.fail(f"{what}: not seen within {timeout_s:.0f}s (last: {last!r})")
