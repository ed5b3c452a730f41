"""Polling until something is ready, with tenacity, and free ports."""

from __future__ import annotations

import socket
from collections.abc import Callable

from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    retry_if_result,
    stop_after_delay,
    wait_fixed,
)

from obsctl.errors import ObsctlError


class StackError(ObsctlError):
    """A component failed to start or become ready; the message names it and its log file."""


def wait_until(check: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> bool:
    """Call `check` until it returns True (exceptions count as not yet); False after `timeout` seconds."""
    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(interval),
        retry=retry_if_result(lambda ok: not ok) | retry_if_exception_type(Exception),
    )
    try:
        return bool(retrying(check))
    except RetryError:
        return False


def wait_ready(
    what: str,
    check: Callable[[], bool],
    *,
    timeout: float,
    alive: Callable[[], bool],
    log: str,
    interval: float = 0.1,
) -> None:
    """Wait until `check` passes; fail fast with the log's tail when the process dies meanwhile."""

    def ready_or_dead() -> bool:
        if not alive():
            raise _Died()
        return check()

    retrying = Retrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(interval),
        retry=retry_if_not_exception_type(_Died)
        & (retry_if_result(lambda ok: not ok) | retry_if_exception_type(Exception)),
        reraise=True,
    )
    try:
        retrying(ready_or_dead)
    except _Died:
        raise StackError(f"{what} exited during start-up; see {log}:\n{log_tail(log)}") from None
    except RetryError:  # the readiness check kept answering "not yet"
        raise StackError(f"{what} not ready after {timeout:.0f}s; see {log}:\n{log_tail(log)}") from None
    except Exception as exc:  # the readiness check kept raising: say what it last said
        reason = f"{type(exc).__name__}: {exc}"
        raise StackError(
            f"{what} not ready after {timeout:.0f}s ({reason}); see {log}:\n{log_tail(log)}"
        ) from None


class _Died(Exception):
    pass


def log_tail(log: str, lines: int = 15) -> str:
    try:
        with open(log, errors="replace") as fh:
            return "".join(fh.readlines()[-lines:])
    except OSError:
        return "(no log)"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """True when a server could listen on the port now. With SO_REUSEADDR, as the servers set it,
    so a port whose last connections linger in TIME_WAIT counts as free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False
