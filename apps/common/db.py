"""PostgreSQL access: one connection pool per worker process, transactions with metrics.

The pool opens lazily in the worker that first uses it: a pool created before gunicorn forks
would share sockets between processes.

Pooled connections are in autocommit mode. `transaction()` wraps its statements in BEGIN ...
COMMIT; `statement()` is for work that is one statement (a guarded UPDATE, an INSERT ... ON
CONFLICT, a lookup), which PostgreSQL runs as a transaction of its own: one round trip instead of
three, and no BEGIN and COMMIT to parse, plan and log.
"""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool

from apps.common import metrics
from apps.common.config import env

# How long the pool keeps retrying one failed connection attempt (its delays double from 1 s)
# before it gives up; the next request that finds no connection starts a fresh attempt at once.
# psycopg_pool's default (300 s) lets the delay grow to a minute during an outage, so the service
# would stay down long after PostgreSQL is back; a few seconds bounds that to about one delay.
_RECONNECT_TIMEOUT_S = 3.0

_MAX_TRACKED = 256

_lock = threading.Lock()
_pool: ConnectionPool | None = None
_pool_pid: int | None = None


# A connection unused for this long gets the full check (a round trip) before it is handed out.
_IDLE_CHECK_S = 30.0
_POLL_IN = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP


def _needs_round_trip(conn: psycopg.Connection[Any], last_checked: dict[int, float], now: float) -> bool:
    """Whether a pooled connection must be checked with a round trip before it is handed out.

    An idle connection in the pool has nothing to read: PostgreSQL sends nothing to a client that
    sent nothing. When the server shuts down, restarts or terminates the backend, the backend's
    last words (an error message) and the end of the stream make the socket readable, so a
    non-blocking poll of the socket (no round trip) finds every connection a restart killed. The
    round trip (psycopg_pool's check, an empty query) is kept for what a poll cannot see: a socket
    psycopg already knows to be broken or closed, anything readable on it, and a connection
    unused for _IDLE_CHECK_S (a peer that vanished without closing). Before this, every checkout
    paid a round trip: about a fifth of the payment service's CPU under load."""
    if conn.closed or conn.broken or conn.pgconn.status != psycopg.pq.ConnStatus.OK:
        return True
    key = id(conn)
    if now - last_checked.get(key, 0.0) > _IDLE_CHECK_S:
        return True
    poller = select.poll()
    poller.register(conn.pgconn.socket, _POLL_IN)
    return bool(poller.poll(0))


def _checker(holder: list[ConnectionPool]) -> Callable[[psycopg.Connection[Any]], None]:
    """The pool's check of a connection before it is handed out (see _needs_round_trip). A
    connection that fails it is replaced, and all the idle ones are too (drain): one dead
    connection means the server restarted or dropped us, so the others are dead as well, and
    finding that out one per request would cost each of them a failed check and the pool's retry
    delay (about a second)."""
    last_checked: dict[int, float] = {}

    def check(conn: psycopg.Connection[Any]) -> None:
        now = time.monotonic()
        try:
            if _needs_round_trip(conn, last_checked, now):
                ConnectionPool.check_connection(conn)
        except Exception:
            last_checked.pop(id(conn), None)
            if holder:
                holder[0].drain()
            raise
        if len(last_checked) > 4 * _MAX_TRACKED:  # ids of connections long replaced
            last_checked.clear()
        last_checked[id(conn)] = now

    return check


def pool() -> ConnectionPool:
    global _pool, _pool_pid
    with _lock:
        if _pool is None or _pool_pid != os.getpid():
            max_size = env("DB_POOL_MAX", 8, int)
            holder: list[ConnectionPool] = []
            _pool = ConnectionPool(
                env("DATABASE_URL"),
                min_size=1,
                max_size=max_size,
                kwargs={"row_factory": dict_row, "connect_timeout": 2, "autocommit": True},
                timeout=env("DB_POOL_TIMEOUT_S", 2.0, float),
                # Every connection is checked (one round trip) before it is handed out: after a
                # PostgreSQL restart the idle ones are dead, and a request must not be the one to
                # find out. A failed check is replaced by a new connection, not an error.
                check=_checker(holder),
                reconnect_timeout=_RECONNECT_TIMEOUT_S,
                open=True,
                name=env("SERVICE_NAME", "service"),
            )
            holder.append(_pool)
            _pool_pid = os.getpid()
            metrics.gauge("db_client_connections_max").set(max_size)
        return _pool


def _record_usage(p: ConnectionPool) -> None:
    stats = p.get_stats()
    size = stats.get("pool_size", 0)
    idle = stats.get("pool_available", 0)
    usage = metrics.gauge("db_client_connections_usage")
    usage.labels("used").set(size - idle)
    usage.labels("idle").set(idle)


@contextmanager
def transaction(operation: str) -> Iterator[psycopg.Connection[DictRow]]:
    """One transaction on a pooled connection; commits on success, rolls back on error."""
    with _measured(operation) as conn, conn.transaction():
        yield conn


@contextmanager
def statement(operation: str) -> Iterator[psycopg.Connection[DictRow]]:
    """A pooled connection for a single statement, which commits on its own (autocommit).

    Only for one statement: two statements here would be two transactions.
    """
    with _measured(operation) as conn:
        yield conn


@contextmanager
def _measured(operation: str) -> Iterator[psycopg.Connection[DictRow]]:
    p = pool()
    started = time.perf_counter()
    try:
        with p.connection() as conn:
            _record_usage(p)
            # The pool's connections use dict_row (see pool()).
            yield cast("psycopg.Connection[DictRow]", conn)
    finally:
        metrics.histogram("db_client_operation_duration_seconds").labels(operation).observe(
            time.perf_counter() - started
        )
        _record_usage(p)


def ping() -> None:
    """Readiness: a round trip to PostgreSQL."""
    with pool().connection(timeout=1) as conn:
        conn.execute("SELECT 1")
