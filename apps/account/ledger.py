"""Ledger operations on one PostgreSQL connection (the caller owns the transaction).

Every movement locks the user's account row (SELECT ... FOR UPDATE), reads what its rules need in
one statement (the movement already booked under its (kind, reference_id), a void, the debit a
compensation gives back, the settlement account), then writes one movement, two entries (user <->
the currency's settlement account) and both balances in one statement, the last before the
commit, so the settlement account's hot row is held only for the end of the transaction: three
statements per movement. Locks are always taken user first, settlement second: no deadlock.
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


def _duplicate(prior: dict[str, Any], kind: str, reference_id: str, account_id: int, amount: int) -> Movement:
    """The movement already booked for (kind, reference_id): the same call again, or a conflict."""
    if prior["user_account_id"] != account_id or prior["amount"] != amount:
        raise ReferenceConflict(
            f"{kind} {reference_id} was already booked with a different user, currency or amount"
        )
    return Movement(str(prior["movement_id"]), prior["balance_after"], duplicate=True)


# Everything a movement's rules read once the user's row is locked, in one round trip: the movement
# already booked under this reference (a retry), whether the payment id was voided (read by a
# debit), the debit a compensation gives back, and the currency's settlement account. It runs as
# its own statement after the lock on purpose: under READ COMMITTED each statement takes its
# snapshot when it starts, so only a statement started after the lock was granted sees what a
# concurrent call on the same account committed while we waited for it.
_PRIOR = (
    "SELECT m.movement_id, m.user_account_id, m.amount, m.balance_after,"
    " EXISTS (SELECT 1 FROM ledger.voided_payments v WHERE v.payment_id = %(reference)s) AS voided,"
    " d.user_account_id AS debit_account_id, d.amount AS debit_amount,"
    " (SELECT s.account_id FROM ledger.accounts s"
    "   WHERE s.kind = 'settlement' AND s.currency = %(currency)s) AS settlement_id"
    " FROM (VALUES (1)) AS one (x)"
    " LEFT JOIN ledger.movements m ON m.kind = %(kind)s AND m.reference_id = %(reference)s"
    " LEFT JOIN ledger.movements d ON d.kind = 'debit' AND d.reference_id = %(reference)s"
)


def _prior(
    cur: psycopg.Cursor[dict[str, Any]], kind: str, reference_id: str, currency: str
) -> dict[str, Any]:
    cur.execute(_PRIOR, {"kind": kind, "reference": reference_id, "currency": currency})
    row = cur.fetchone()
    assert row is not None  # one row by construction: the VALUES row, left-joined
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
    return None if row is None else _duplicate(row, kind, reference_id, account_id, amount)


def _debit_to_compensate(
    cur: psycopg.Cursor[dict[str, Any]], prior: dict[str, Any], payment_id: str, account_id: int, amount: int
) -> bool:
    """A compensation gives back a debit: it needs one, for this account, of at least this amount.

    False when the payment was never debited: the payment id is then voided (see move()).
    """
    if prior["debit_account_id"] is None:
        # Remember the payment as voided, so a debit that arrives late (a slow retry) is refused
        # instead of taking money that nobody will give back.
        cur.execute(
            "INSERT INTO ledger.voided_payments (payment_id) VALUES (%s) ON CONFLICT DO NOTHING",
            (payment_id,),
        )
        return False
    if prior["debit_account_id"] != account_id or amount > prior["debit_amount"]:
        raise ReferenceConflict(f"compensation of payment {payment_id} does not match its debit")
    return True


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
        prior = _prior(cur, kind, reference_id, currency)
        if prior["movement_id"] is not None:
            return _duplicate(prior, kind, reference_id, account["account_id"], amount)
        if kind == "debit" and prior["voided"]:
            raise PaymentVoided(f"payment {reference_id} was already compensated and cannot be debited")
        if kind != "compensation" or _debit_to_compensate(
            cur, prior, reference_id, account["account_id"], amount
        ):
            if prior["settlement_id"] is None:
                raise RuntimeError(f"the {currency} settlement account is missing")
            return _book(cur, kind, reference_id, account, prior["settlement_id"], amount)
    # Outside the transaction block, so the void is kept (committed, or released to the caller's).
    raise DebitNotFound(f"payment {reference_id} was never debited; nothing to compensate")


# The movement, its two entries and both balances in one statement. Every sub-statement runs to
# completion whether or not the final SELECT reads it, so the entries and balances are guarded by
# the movement's insert: when a concurrent call booked the same reference first (the unique
# constraint made us wait for it), nothing is written and no row comes back. The user's row is
# locked already; the settlement row, every payment's hot spot, is locked here, in the last
# statement before the commit. The user's update also checks the version read under the lock.
_BOOK = (
    "WITH movement AS ("
    "   INSERT INTO ledger.movements (kind, reference_id, user_account_id, amount, balance_after)"
    "   VALUES (%(kind)s, %(reference)s, %(user_account)s, %(amount)s, %(balance)s)"
    "   ON CONFLICT (kind, reference_id) DO NOTHING RETURNING movement_id"
    " ), entries AS ("
    "   INSERT INTO ledger.entries (movement_id, account_id, amount)"
    "   SELECT movement_id, %(user_account)s::bigint, %(delta)s::bigint FROM movement"
    "   UNION ALL SELECT movement_id, %(settlement)s::bigint, -%(delta)s::bigint FROM movement"
    " ), user_balance AS ("
    "   UPDATE ledger.accounts SET balance = %(balance)s, version = version + 1, updated_at = now()"
    "   WHERE account_id = %(user_account)s AND version = %(version)s AND EXISTS (SELECT FROM movement)"
    "   RETURNING 1"
    " ), settlement_balance AS ("
    "   UPDATE ledger.accounts SET balance = balance - %(delta)s::bigint, version = version + 1,"
    "   updated_at = now()"
    "   WHERE account_id = %(settlement)s AND EXISTS (SELECT FROM movement)"
    "   RETURNING 1"
    " )"
    " SELECT movement_id, (SELECT count(*) FROM user_balance) AS user_rows,"
    " (SELECT count(*) FROM settlement_balance) AS settlement_rows FROM movement"
)


def _book(
    cur: psycopg.Cursor[dict[str, Any]],
    kind: MovementKind,
    reference_id: str,
    account: dict[str, Any],
    settlement_id: int,
    amount: int,
) -> Movement:
    """Write the movement, its two entries and both balances; the user's row is locked by the caller."""
    delta = _SIGN[kind] * amount
    new_balance = account["balance"] + delta
    if new_balance < 0:
        raise InsufficientFunds(f"balance {account['balance']} is below the amount {amount}")

    cur.execute(
        _BOOK,
        {
            "kind": kind,
            "reference": reference_id,
            "user_account": account["account_id"],
            "amount": amount,
            "balance": new_balance,
            "version": account["version"],
            "delta": delta,
            "settlement": settlement_id,
        },
    )
    booked = cur.fetchone()
    if booked is None:
        # The same reference was booked concurrently on another account (a conflicting call):
        # answer as a duplicate or a conflict.
        found = _existing(cur, kind, reference_id, account["account_id"], amount)
        if found is None:
            raise ReferenceConflict(f"{kind} {reference_id} is being booked concurrently")
        return found
    if booked["user_rows"] != 1 or booked["settlement_rows"] != 1:
        # Impossible while we hold the row lock; refuse (the transaction rolls back) rather than
        # book on a stale balance.
        raise RuntimeError(f"account {account['account_id']} or its settlement changed under its row lock")
    return Movement(str(booked["movement_id"]), new_balance, duplicate=False)


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
