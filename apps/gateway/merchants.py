"""Merchants and their customers, in PostgreSQL schema `gateway`."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from apps.common import db

# A merchant's record changes rarely; caching it for a few seconds saves a query per request while
# a rotated key or a changed limit still takes effect quickly. Unknown keys are never cached.
_CACHE_TTL_S = 10.0
_CACHE_MAX = 1024


@dataclass(frozen=True)
class Merchant:
    merchant_id: str
    name: str
    api_secret: str
    rate_limit_per_minute: int

    def __repr__(self) -> str:  # never print the secret, even in a debugger or a traceback
        return f"Merchant({self.merchant_id!r}, {self.name!r}, limit={self.rate_limit_per_minute}/min)"


_lock = threading.Lock()
_cache: dict[str, tuple[float, Merchant]] = {}


def by_api_key(api_key: str) -> Merchant | None:
    now = time.monotonic()
    with _lock:
        hit = _cache.get(api_key)
    if hit and hit[0] > now:
        return hit[1]
    with db.statement("gateway_merchant_lookup") as conn:
        row = conn.execute(
            "SELECT merchant_id, name, api_secret, rate_limit_per_minute"
            " FROM gateway.merchants WHERE api_key = %s",
            (api_key,),
        ).fetchone()
    if row is None:
        return None
    merchant = Merchant(**row)
    with _lock:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[api_key] = (now + _CACHE_TTL_S, merchant)
    return merchant


# Customers this process has already written: a merchant's regular customers then cost no write
# per payment. Rows are never deleted, so a remembered pair stays true; the bound only caps memory.
_REMEMBERED_MAX = 100_000
_remembered: OrderedDict[tuple[str, str], None] = OrderedDict()


def remember_customer(merchant_id: str, user_id: str) -> None:
    pair = (merchant_id, user_id)
    with _lock:
        if pair in _remembered:
            _remembered.move_to_end(pair)
            return
    with db.statement("gateway_remember_customer") as conn:
        conn.execute(
            "INSERT INTO gateway.merchant_users (merchant_id, user_id) VALUES (%s, %s)"
            " ON CONFLICT DO NOTHING",
            (merchant_id, user_id),
        )
    with _lock:  # only after the commit: a failed write is tried again next time
        _remembered[pair] = None
        if len(_remembered) > _REMEMBERED_MAX:
            _remembered.popitem(last=False)


def is_customer(merchant_id: str, user_id: str) -> bool:
    with db.statement("gateway_customer_lookup") as conn:
        row = conn.execute(
            "SELECT 1 FROM gateway.merchant_users WHERE merchant_id = %s AND user_id = %s",
            (merchant_id, user_id),
        ).fetchone()
    return row is not None
