"""Ledger operations on one PostgreSQL connection (the caller owns the transaction).

Every movement locks the user's account row (SELECT ... FOR UPDATE), checks idempotency by its
(kind, reference_id), writes one movement and two entries (user <-> the currency's settlement
account), then updates both balances, the settlement account last so its hot row is held only
for the end of the transaction. Locks are always taken user first, settlement second: no deadlock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row

MovementKind = Literal["debit", "compensation", "refund", "opening"]
CreditKind = Literal["compensation", "refund"]

# Credits add to the user's balance; a debit takes from it.
_SIGN: dict[str, int] = {"debit": -1, "compensation": 1, "refund": 1, "opening": 1}


@dataclass(frozen=True)
class Movement:
    entry_id: str
    balance: int
    duplicate: bool

    def as_json(self) -> dict[str, Any]:
        return {"entry_id": self.entry_id, "balance": self.balance, "duplicate": self.duplicate}


class LedgerError(Exception):
    """A ledger rule refused the operation; `code` and `status` are what the API answers."""

    status = 422
    code = "ledger_error"
    field: str | None = None


class AccountNotFound(LedgerError):
    status = 404
    code = "account_not_found"


class InsufficientFunds(LedgerError):
    status = 422
    code = "insufficient_funds"
    field = "amount"


class ReferenceConflict(LedgerError):
    """The reference was already used for a different user, currency or amount."""

    status = 409
    code = "reference_conflict"


class DebitNotFound(LedgerError):
    """A compensation for a payment that was never debited (the payment id is voided instead)."""

    status = 404
    code = "debit_not_found"


class PaymentVoided(LedgerError):
    """A debit for a payment that was already compensated without ever being debited."""

    status = 409
    code = "payment_voided"


def _cursor(conn: psycopg.Connection[Any]) -> psycopg.Cursor[dict[str, Any]]:
    # Our own row factory: callers (the seeding) may pass a connection with any factory.
    return conn.cursor(row_factory=dict_row)


def _lock_user_account(cur: psycopg.Cursor[dict[str, Any]], user_id: str, currency: str) -> dict[str, Any]:
    cur.execute(
        "SELECT account_id, balance, version FROM ledger.accounts"
        " WHERE kind = 'user' AND user_id = %s AND currency = %s FOR UPDATE",
        (user_id, currency),
    )
    row = cur.fetchone()
    if row is None:
        raise AccountNotFound(f"no {currency} account for user {user_id}")
    return row


def _existing(
    cur: psycopg.Cursor[dict[str, Any]], kind: str, reference_id: str, account_id: int, amount: int
) -> Movement | None:
    cur.execute(
        "SELECT movement_id, user_account_id, amount, balance_after FROM ledger.movements"
        " WHERE kind = %s AND reference_id = %s",
        (kind, reference_id),
    )
    row = cur.fetchone()
    if row is None:
        return None
    if row["user_account_id"] != account_id or row["amount"] != amount:
        raise ReferenceConflict(
            f"{kind} {reference_id} was already booked with a different user, currency or amount"
        )
    return Movement(str(row["movement_id"]), row["balance_after"], duplicate=True)


def _debit_to_compensate(
    cur: psycopg.Cursor[dict[str, Any]], payment_id: str, account_id: int, amount: int
) -> bool:
    """A compensation gives back a debit: it needs one, for this account, of at least this amount.

    False when the payment was never debited: the payment id is then voided (see move()).
    """
    cur.execute(
        "SELECT user_account_id, amount FROM ledger.movements WHERE kind = 'debit' AND reference_id = %s",
        (payment_id,),
    )
    debit = cur.fetchone()
    if debit is None:
        # Remember the payment as voided, so a debit that arrives late (a slow retry) is refused
        # instead of taking money that nobody will give back.
        cur.execute(
            "INSERT INTO ledger.voided_payments (payment_id) VALUES (%s) ON CONFLICT DO NOTHING",
            (payment_id,),
        )
        return False
    if debit["user_account_id"] != account_id or amount > debit["amount"]:
        raise ReferenceConflict(f"compensation of payment {payment_id} does not match its debit")
    return True


def _check_not_voided(cur: psycopg.Cursor[dict[str, Any]], payment_id: str) -> None:
    cur.execute("SELECT 1 FROM ledger.voided_payments WHERE payment_id = %s", (payment_id,))
    if cur.fetchone() is not None:
        raise PaymentVoided(f"payment {payment_id} was already compensated and cannot be debited")


def _settlement_account_id(cur: psycopg.Cursor[dict[str, Any]], currency: str) -> int:
    cur.execute(
        "SELECT account_id FROM ledger.accounts WHERE kind = 'settlement' AND currency = %s", (currency,)
    )
    row = cur.fetchone()
    if row is None:
        raise RuntimeError(f"the {currency} settlement account is missing")
    return int(row["account_id"])


def move(
    conn: psycopg.Connection[Any],
    kind: MovementKind,
    reference_id: str,
    user_id: str,
    currency: str,
    amount: int,
) -> Movement:
    """Book one movement of `amount` (> 0) between the user and settlement; idempotent per reference.

    Raises a LedgerError subclass when a rule refuses it. DebitNotFound is raised only after the
    void it records is written: callers that own an outer transaction should commit it anyway
    (the API does), since a refusal never leaves anything else behind.
    """
    if amount <= 0:
        raise ValueError("amount must be positive")
    with conn.transaction(), _cursor(conn) as cur:
        account = _lock_user_account(cur, user_id, currency)
        # After the lock: a concurrent duplicate on the same account has committed or not started.
        duplicate = _existing(cur, kind, reference_id, account["account_id"], amount)
        if duplicate is not None:
            return duplicate
        if kind == "debit":
            _check_not_voided(cur, reference_id)
        if kind != "compensation" or _debit_to_compensate(cur, reference_id, account["account_id"], amount):
            return _book(cur, kind, reference_id, account, currency, amount)
    # Outside the transaction block, so the void is kept (committed, or released to the caller's).
    raise DebitNotFound(f"payment {reference_id} was never debited; nothing to compensate")


def _book(
    cur: psycopg.Cursor[dict[str, Any]],
    kind: MovementKind,
    reference_id: str,
    account: dict[str, Any],
    currency: str,
    amount: int,
) -> Movement:
    """Write the movement, its two entries and both balances; the user's row is locked by the caller."""
    delta = _SIGN[kind] * amount
    new_balance = account["balance"] + delta
    if new_balance < 0:
        raise InsufficientFunds(f"balance {account['balance']} is below the amount {amount}")

    cur.execute(
        "INSERT INTO ledger.movements (kind, reference_id, user_account_id, amount, balance_after)"
        " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (kind, reference_id) DO NOTHING RETURNING movement_id",
        (kind, reference_id, account["account_id"], amount, new_balance),
    )
    inserted = cur.fetchone()
    if inserted is None:
        # The same reference was booked concurrently on another account (a conflicting call):
        # the unique constraint made us wait for it; answer as a duplicate or a conflict.
        found = _existing(cur, kind, reference_id, account["account_id"], amount)
        if found is None:
            raise ReferenceConflict(f"{kind} {reference_id} is being booked concurrently")
        return found
    movement_id = inserted["movement_id"]

    settlement_id = _settlement_account_id(cur, currency)
    cur.executemany(
        "INSERT INTO ledger.entries (movement_id, account_id, amount) VALUES (%s, %s, %s)",
        [(movement_id, account["account_id"], delta), (movement_id, settlement_id, -delta)],
    )
    cur.execute(
        "UPDATE ledger.accounts SET balance = %s, version = version + 1, updated_at = now()"
        " WHERE account_id = %s AND version = %s",
        (new_balance, account["account_id"], account["version"]),
    )
    if cur.rowcount != 1:
        # Impossible while we hold the row lock; refuse rather than book on a stale balance.
        raise RuntimeError(f"account {account['account_id']} changed under its row lock")
    # Last statement before commit: the settlement row is every payment's hot spot.
    cur.execute(
        "UPDATE ledger.accounts SET balance = balance - %s, version = version + 1, updated_at = now()"
        " WHERE account_id = %s",
        (delta, settlement_id),
    )
    return Movement(str(movement_id), new_balance, duplicate=False)


def debit(
    conn: psycopg.Connection[Any], payment_id: str, user_id: str, currency: str, amount: int
) -> Movement:
    return move(conn, "debit", payment_id, user_id, currency, amount)


def credit(
    conn: psycopg.Connection[Any],
    kind: CreditKind,
    reference_id: str,
    user_id: str,
    currency: str,
    amount: int,
) -> Movement:
    return move(conn, kind, reference_id, user_id, currency, amount)


def balance(conn: psycopg.Connection[Any], user_id: str, currency: str) -> int | None:
    with _cursor(conn) as cur:
        cur.execute(
            "SELECT balance FROM ledger.accounts WHERE kind = 'user' AND user_id = %s AND currency = %s",
            (user_id, currency),
        )
        row = cur.fetchone()
        return None if row is None else int(row["balance"])
