"""Demo data for the local stack: one merchant with API credentials and funded users.

    python -m apps.seed                      the demo merchant and its users (DATABASE_URL)
    python -m apps.seed --merchant-id bench-merchant --users 200 --rate-limit-per-minute 100000000

Prints the result as the last line of its output, one JSON object: merchant_id, api_key,
api_secret, user_ids, currency. `obsctl up` runs it once per database (after the migrations) and
keeps the result next to the data; stack.env exports it as DEMO_API_KEY, DEMO_API_SECRET,
DEMO_USER_IDS, DEMO_CURRENCY. The benchmark seeds its own merchant the same way. Idempotent:
running it again returns the existing merchant and funds nobody twice.
"""

from __future__ import annotations

import argparse
import json
import secrets
from typing import Any

import psycopg
from psycopg.rows import dict_row

from apps.account.seed import open_account
from apps.common.config import env

MERCHANT_ID = "merchant-demo"
MERCHANT_NAME = "Demo merchant"
CURRENCY = "EUR"
# The risk service rejects a user's 11th payment within a minute (velocity rule): enough users that
# the demo's load (about 16 payments/s) stays well under that for each of them.
USERS = 400
USER_PREFIX = "user-demo-"
# Large enough that the demo and the live tests never run out of money (minor units).
OPENING_BALANCE = 1_000_000_000
# The load generator sends tens of requests per second: the demo merchant must not be rate-limited
# by the gateway's default (600/min), or the demo would show 429s instead of the injected fault.
RATE_LIMIT_PER_MINUTE = 60_000


def seed_demo(
    dsn: str,
    *,
    merchant_id: str = MERCHANT_ID,
    merchant_name: str = MERCHANT_NAME,
    users: int = USERS,
    user_prefix: str = USER_PREFIX,
    rate_limit_per_minute: int = RATE_LIMIT_PER_MINUTE,
) -> dict[str, Any]:
    """The merchant (created unless it exists) and `users` users funded with OPENING_BALANCE, each
    a customer of the merchant (whose balance it may read)."""
    user_ids = [f"{user_prefix}{i:03d}" for i in range(1, users + 1)]
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        with conn.transaction():
            conn.execute(
                "INSERT INTO gateway.merchants"
                " (merchant_id, name, api_key, api_secret, rate_limit_per_minute)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (merchant_id) DO NOTHING",
                (
                    merchant_id,
                    merchant_name,
                    "demo_" + secrets.token_hex(12),
                    secrets.token_hex(32),
                    rate_limit_per_minute,
                ),
            )
            row = conn.execute(
                "SELECT api_key, api_secret FROM gateway.merchants WHERE merchant_id = %s", (merchant_id,)
            ).fetchone()
            assert row is not None
        for user in user_ids:
            open_account(conn, user, CURRENCY, OPENING_BALANCE)
            with conn.transaction():
                conn.execute(
                    "INSERT INTO gateway.merchant_users (merchant_id, user_id) VALUES (%s, %s)"
                    " ON CONFLICT DO NOTHING",
                    (merchant_id, user),
                )
    return {
        "merchant_id": merchant_id,
        "api_key": row["api_key"],
        "api_secret": row["api_secret"],
        "user_ids": user_ids,
        "currency": CURRENCY,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merchant-id", default=MERCHANT_ID)
    parser.add_argument("--merchant-name", default=MERCHANT_NAME)
    parser.add_argument("--users", type=int, default=USERS, help="funded users (default %(default)s)")
    parser.add_argument("--user-prefix", default=USER_PREFIX, help="user ids are PREFIX001, PREFIX002, ...")
    parser.add_argument("--rate-limit-per-minute", type=int, default=RATE_LIMIT_PER_MINUTE)
    args = parser.parse_args()
    result = seed_demo(
        env("DATABASE_URL"),
        merchant_id=args.merchant_id,
        merchant_name=args.merchant_name,
        users=args.users,
        user_prefix=args.user_prefix,
        rate_limit_per_minute=args.rate_limit_per_minute,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
