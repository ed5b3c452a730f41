"""One background thread of each kind per process: started once, stopped when the process exits.

Used for the outbox relay and the notification consumer, which a gunicorn worker starts from its
app factory; a second create_app() in the same process must not start a second one.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import Protocol, TypeVar


class Stoppable(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def join(self, timeout: float | None = None) -> None: ...
    def is_alive(self) -> bool: ...


T = TypeVar("T", bound=Stoppable)

_lock = threading.Lock()
_running: dict[str, Stoppable] = {}


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
