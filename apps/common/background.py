"""Background threads of a service process: one of each kind, retried with backoff, stopped at exit.

The outbox relay, the notification consumer and the payment reconciler are `Worker`s: a daemon
thread that runs its `step()` until stopped, and after a failure (broker or database gone) calls
`recover()`, waits and tries again, the wait doubling from `first_backoff_s` up to
`max_backoff_s` and starting over after a step that succeeds. A gunicorn worker starts them from
its app factory with `start_once(kind, make)`, so a second create_app() in the same process does
not start a second one, and each is stopped when the process exits.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections.abc import Callable
from typing import Protocol, TypeVar

log = logging.getLogger(__name__)


class Stoppable(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def join(self, timeout: float | None = None) -> None: ...
    def is_alive(self) -> bool: ...


T = TypeVar("T", bound=Stoppable)

_lock = threading.Lock()
_running: dict[str, Stoppable] = {}


class Worker(threading.Thread):
    """A daemon thread repeating `step()` until `stop()`, with exponential backoff after failures."""

    first_backoff_s = 0.5
    max_backoff_s = 10.0

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.stopping = threading.Event()

    def step(self) -> None:
        """One unit of work; it may loop itself, but returns soon after `stopping` is set."""
        raise NotImplementedError

    def recover(self) -> None:
        """After a failed step, before the wait: drop the connections the failure may have broken."""

    def close(self) -> None:
        """When the thread ends; recover() may call it too."""

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        backoff = self.first_backoff_s
        while not self.stopping.is_set():
            try:
                self.step()
                backoff = self.first_backoff_s
            except Exception:  # any failure (broker gone, database gone): recover, wait, retry
                log.warning("%s failed; retrying in %.1fs", self.name, backoff, exc_info=True)
                self.recover()
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)
        self.close()


def start_once(kind: str, make: Callable[[], T]) -> T:
    """The running thread of this kind, or a new one from `make` if there is none alive."""
    with _lock:
        current = _running.get(kind)
        if current is None or not current.is_alive():
            current = make()
            current.start()
            _running[kind] = current
            atexit.register(_stop, current)
        return current  # type: ignore[return-value]


def _stop(thread: Stoppable) -> None:
    thread.stop()
    thread.join(timeout=3)
