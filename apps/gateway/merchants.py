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


# Customers this process has already seen: a merchant's regular customers then cost no query per
# payment. Only a "yes" is remembered, for as long as a merchant record is (_CACHE_TTL_S: a
# relation an operator removes stops counting within that time); a "no" is asked every time.
_CUSTOMERS_MAX = 100_000
_customers: OrderedDict[tuple[str, str], float] = OrderedDict()


def is_customer(merchant_id: str, user_id: str) -> bool:
    """Whether the user is one of the merchant's customers (gateway.merchant_users): seeded or
    registered for it. Only those may be charged or have their balance read by it."""
    pair = (merchant_id, user_id)
    now = time.monotonic()
    with _lock:
        until = _customers.get(pair)
    if until is not None and until > now:
        return True
    with db.statement("gateway_customer_lookup") as conn:
        row = conn.execute(
            "SELECT 1 FROM gateway.merchant_users WHERE merchant_id = %s AND user_id = %s",
            (merchant_id, user_id),
        ).fetchone()
    if row is None:
        return False
    with _lock:
        _customers[pair] = now + _CACHE_TTL_S
        _customers.move_to_end(pair)
        if len(_customers) > _CUSTOMERS_MAX:
            _customers.popitem(last=False)
    return True
