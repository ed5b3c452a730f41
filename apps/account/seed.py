"""Opening accounts with a starting balance (the demo seeding and the tests use this).

The opening balance is booked like any other movement: an `opening` movement from the currency's
settlement account to the user, two entries, so the ledger's sums stay at zero per currency.
"""

from __future__ import annotations

from typing import Any

import psycopg

from apps.account import ledger


def open_account(conn: psycopg.Connection[Any], user_id: str, currency: str, balance: int) -> int:
    """Create the user's account in `currency` funded with `balance` minor units; return its balance.

    Idempotent: an account that already exists is left as it is (running the seeding twice never
    funds anyone twice), and its current balance is returned.
    """
    if balance < 0:
        raise ValueError("an opening balance cannot be negative")
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(
            "INSERT INTO ledger.accounts (kind, currency) VALUES ('settlement', %s)"
            " ON CONFLICT (currency) WHERE kind = 'settlement' DO NOTHING",
            (currency,),
        )
        cur.execute(
            "INSERT INTO ledger.accounts (kind, user_id, currency) VALUES ('user', %s, %s)"
            " ON CONFLICT (user_id, currency) WHERE kind = 'user' DO NOTHING RETURNING account_id",
            (user_id, currency),
        )
        created = cur.fetchone() is not None
        if created and balance > 0:
            return ledger.move(conn, "opening", f"{user_id}/{currency}", user_id, currency, balance).balance
    current = ledger.balance(conn, user_id, currency)
    assert current is not None  # the account exists: created above or before
    return current
