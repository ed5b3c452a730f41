"""Redis access with short timeouts and metrics; callers decide how to degrade when it is down."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from apps.common import metrics
from apps.common.config import env

_lock = threading.Lock()
_client: redis.Redis | None = None


def client() -> redis.Redis:
    global _client
    with _lock:
        if _client is None:
            timeout = env("REDIS_TIMEOUT_S", 0.25, float)
            _client = redis.Redis.from_url(
                env("REDIS_URL"),
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                decode_responses=False,
            )
        return _client


@contextmanager
def operation(name: str) -> Iterator[redis.Redis]:
    """Time one logical Redis operation and count its failures (the exception still propagates)."""
    started = time.perf_counter()
    try:
        yield client()
    except redis.RedisError:
        metrics.counter("redis_client_errors_total").labels(name).inc()
        raise
    finally:
        metrics.histogram("redis_client_operation_duration_seconds").labels(name).observe(
            time.perf_counter() - started
        )


def ping() -> None:
    client().ping()
