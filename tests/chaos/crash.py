"""SIGKILL a component of the stack the way a crash does: every process of it at once, no shutdown."""

from __future__ import annotations

import os
import signal
import time

from obsctl.run.stack import process
from obsctl.run.stack.server import Server


def _alive_members(sid: int) -> list[int]:
    alive = []
    for pid in process.session_members(sid):
        fields = process.stat_fields(pid)
        if fields is not None and fields[process.STATE] != "Z":
            alive.append(pid)
    return alive


def sigkill(server: Server, timeout: float = 15.0) -> None:
    """SIGKILL the server's whole session (each component runs in a session of its own: the server
    and every process it forked, e.g. PostgreSQL's backends and WAL writer, gunicorn's workers)."""
    pid = server.pid
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.poll_child(pid)  # reap it when it is our child
        if not _alive_members(pid):
            return
        time.sleep(0.05)
    raise AssertionError(f"{server.name}: processes {_alive_members(pid)} survived SIGKILL")


def sigkill_tree(pid: int) -> None:
    """SIGKILL a process and its children together (a gunicorn master and its workers started in
    the caller's own process group, where a group kill would hit the caller too)."""
    victims = [*process.processes_where(process.PARENT, pid), pid]
    for victim in victims:
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass
