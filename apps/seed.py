"""Demo data for the local stack: one merchant with API credentials and a few funded users.

`obsctl up` runs seed_demo(dsn) once per database (after the migrations) and keeps the result next
to the data; stack.env exports it as DEMO_API_KEY, DEMO_API_SECRET, DEMO_USER_IDS, DEMO_CURRENCY.
Idempotent: running it again returns the existing merchant and funds nobody twice.
"""

from __future__ import annotations

import secrets
from typing import Any

import psycopg
from psycopg.rows import dict_row

from apps.account.seed import open_account

MERCHANT_ID = "merchant-demo"
MERCHANT_NAME = "Demo merchant"
CURRENCY = "EUR"
# The risk service rejects a user's 11th payment within a minute (velocity rule): enough users that
# the demo's load (about 16 payments/s) stays well under that for each of them.
USERS = tuple(f"user-demo-{i:03d}" for i in range(1, 401))
# Large enough that the demo and the live tests never run out of money (minor units).
OPENING_BALANCE = 1_000_000_000
# The load generator sends tens of requests per second: the demo merchant must not be rate-limited
# by the gateway's default (600/min), or the demo would show 429s instead of the injected fault.
RATE_LIMIT_PER_MINUTE = 60_000


def seed_demo(dsn: str) -> dict[str, Any]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        with conn.transaction():
            conn.execute(
                "INSERT INTO gateway.merchants"
                " (merchant_id, name, api_key, api_secret, rate_limit_per_minute)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (merchant_id) DO NOTHING",
                (
                    MERCHANT_ID,
                    MERCHANT_NAME,
                    "demo_" + secrets.token_hex(12),
                    secrets.token_hex(32),
                    RATE_LIMIT_PER_MINUTE,
                ),
            )
            row = conn.execute(
                "SELECT api_key, api_secret FROM gateway.merchants WHERE merchant_id = %s", (MERCHANT_ID,)
            ).fetchone()
            assert row is not None
        for user in USERS:
            open_account(conn, user, CURRENCY, OPENING_BALANCE)
            with conn.transaction():
                # The merchant may read the balances of its own customers.
                conn.execute(
                    "INSERT INTO gateway.merchant_users (merchant_id, user_id) VALUES (%s, %s)"
                    " ON CONFLICT DO NOTHING",
                    (MERCHANT_ID, user),
                )
    return {
        "merchant_id": MERCHANT_ID,
        "api_key": row["api_key"],
        "api_secret": row["api_secret"],
        "user_ids": list(USERS),
        "currency": CURRENCY,
    }
