"""Per-merchant rate limiting: a moving window in Redis (the `limits` library), shared by every
gateway process. When Redis is unreachable the limiter lets requests through: the limit protects
capacity, and refusing all traffic would be a worse outage than briefly not limiting."""

from __future__ import annotations

import logging
import math
import threading
import time

from limits import RateLimitItemPerMinute
from limits.storage import RedisStorage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from apps.common import metrics, redis_client
from apps.common.config import env
from apps.common.errors import ApiError
from apps.gateway.merchants import Merchant

log = logging.getLogger(__name__)

_lock = threading.Lock()
_limiter: MovingWindowRateLimiter | None = None


def _get_limiter() -> MovingWindowRateLimiter:
    global _limiter
    with _lock:
        if _limiter is None:
            timeout = env("REDIS_TIMEOUT_S", 0.25, float)
            storage = storage_from_string(
                env("REDIS_URL"), socket_timeout=timeout, socket_connect_timeout=timeout
            )
            assert isinstance(storage, RedisStorage)
            _limiter = MovingWindowRateLimiter(storage)
        return _limiter


def check(merchant: Merchant) -> None:
    """Count one request for the merchant; raises ApiError(429) with Retry-After when over the limit."""
    item = RateLimitItemPerMinute(merchant.rate_limit_per_minute)
    limiter = _get_limiter()
    try:
        with redis_client.operation("gateway_rate_limit"):
            allowed = limiter.hit(item, "merchant", merchant.merchant_id)
            if allowed:
                return
            stats = limiter.get_window_stats(item, "merchant", merchant.merchant_id)
    except Exception as exc:  # any storage failure (redis-py's or limits' own wrapper): fail open
        log.warning("rate limiter unavailable, request allowed", extra={"error": type(exc).__name__})
        return
    retry_after = max(1, math.ceil(stats.reset_time - time.time()))
    metrics.counter("gateway_rate_limited_requests_total").inc()
    raise ApiError(
        429,
        "rate_limited",
        f"rate limit of {merchant.rate_limit_per_minute} requests per minute exceeded; "
        f"retry after {retry_after} s",
        None,
        headers={"Retry-After": str(retry_after)},
    )
