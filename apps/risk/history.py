"""Per-user facts kept in Redis: payments in a sliding window, and whether a payment is the first.

Velocity is a sorted set per user (member: payment id, score: time in ms). One MULTI/EXEC round
trip trims entries older than the window, adds this payment (NX: a retried evaluation of the same
payment id neither counts twice nor moves its time), counts, and refreshes the key's expiry.
First payment: SET NX of the user's first payment id, then GET; a retry of that same payment is
still its first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from apps.common import redis_client

# A year: long enough that "first payment" means first, short enough that idle users expire.
_FIRST_SEEN_TTL_S = 365 * 24 * 3600


@dataclass(frozen=True)
class History:
    recent_payments: int
    first_payment: bool


def record(user_id: str, payment_id: str, window_s: int) -> History:
    """Record this payment and return the user's facts; raises redis.RedisError when Redis is down."""
    now_ms = int(time.time() * 1000)
    velocity_key = f"risk:velocity:{user_id}"
    first_key = f"risk:first:{user_id}"
    with redis_client.operation("risk_history") as r:
        pipe = r.pipeline(transaction=True)
        pipe.zremrangebyscore(velocity_key, "-inf", now_ms - window_s * 1000)
        pipe.zadd(velocity_key, {payment_id: now_ms}, nx=True)
        pipe.zcard(velocity_key)
        pipe.expire(velocity_key, window_s + 1)
        pipe.set(first_key, payment_id, nx=True, ex=_FIRST_SEEN_TTL_S)
        pipe.get(first_key)
        results = pipe.execute()
    first_id = results[5]
    return History(recent_payments=int(results[2]), first_payment=first_id == payment_id.encode())
