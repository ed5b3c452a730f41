"""The ledger on a real PostgreSQL: double entry, idempotency, refusals and concurrency."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from apps.account import ledger
from apps.account.seed import open_account


def connect(dsn: str) -> psycopg.Connection[Any]:
    return psycopg.connect(dsn)


def new_user(dsn: str, balance: int, currency: str = "EUR") -> str:
    user = f"u-{uuid.uuid4().hex[:12]}"
    with connect(dsn) as conn:
        open_account(conn, user, currency, balance)
    return user


def totals(dsn: str, currency: str) -> dict[str, int]:
    with connect(dsn) as conn:
        (accounts_sum,) = conn.execute(
            "SELECT coalesce(sum(balance), 0) FROM ledger.accounts WHERE currency = %s", (currency,)
        ).fetchone()  # type: ignore[misc]
        (unbalanced,) = conn.execute(
            "SELECT count(*) FROM (SELECT movement_id FROM ledger.entries GROUP BY movement_id"
            " HAVING sum(amount) <> 0 OR count(*) <> 2) m"
        ).fetchone()  # type: ignore[misc]
        (drift,) = conn.execute(
            "SELECT count(*) FROM ledger.accounts a WHERE a.balance <>"
            " (SELECT coalesce(sum(e.amount), 0) FROM ledger.entries e WHERE e.account_id = a.account_id)"
        ).fetchone()  # type: ignore[misc]
    return {"sum": int(accounts_sum), "unbalanced_movements": int(unbalanced), "drifted_accounts": int(drift)}


def test_opening_is_double_entry_and_idempotent(ledger_dsn: str) -> None:
    user = new_user(ledger_dsn, 10_000, "SEK")
    with connect(ledger_dsn) as conn:
        assert open_account(conn, user, "SEK", 99_999) == 10_000  # a second seeding funds nobody twice
        assert ledger.balance(conn, user, "SEK") == 10_000
        settlement = conn.execute(
            "SELECT balance FROM ledger.accounts WHERE kind = 'settlement' AND currency = 'SEK'"
        ).fetchone()
    # The settlement account is the counterparty of the opening: negative by design.
    assert settlement == (-10_000,)
    assert totals(ledger_dsn, "SEK") == {"sum": 0, "unbalanced_movements": 0, "drifted_accounts": 0}


def test_debit_is_idempotent_per_payment(ledger_dsn: str) -> None:
    user = new_user(ledger_dsn, 1_000)
    with connect(ledger_dsn) as conn:
        first = ledger.debit(conn, "pay-1-" + user, user, "EUR", 300)
        again = ledger.debit(conn, "pay-1-" + user, user, "EUR", 300)
        assert (first.balance, first.duplicate) == (700, False)
        assert again == ledger.Movement(first.entry_id, 700, duplicate=True)
        assert ledger.balance(conn, user, "EUR") == 700
        with pytest.raises(ledger.ReferenceConflict):
            ledger.debit(conn, "pay-1-" + user, user, "EUR", 301)


def test_debit_refuses_overdraft_and_unknown_account(ledger_dsn: str) -> None:
    user = new_user(ledger_dsn, 100)
    with connect(ledger_dsn) as conn:
        with pytest.raises(ledger.InsufficientFunds):
            ledger.debit(conn, "pay-big-" + user, user, "EUR", 101)
        with pytest.raises(ledger.AccountNotFound):
            ledger.debit(conn, "pay-x-" + user, user, "USD", 1)
        assert ledger.balance(conn, user, "EUR") == 100
        # A refused debit leaves nothing behind: the same payment id can be debited later.
        assert ledger.debit(conn, "pay-big-" + user, user, "EUR", 100).balance == 0


def test_check_constraint_backs_the_rule(ledger_dsn: str) -> None:
    user = new_user(ledger_dsn, 5)
    with connect(ledger_dsn) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("UPDATE ledger.accounts SET balance = -1 WHERE user_id = %s", (user,))


def test_compensation_needs_the_debit_and_voids_a_late_one(ledger_dsn: str) -> None:
    user = new_user(ledger_dsn, 1_000)
    with connect(ledger_dsn) as conn:
        ledger.debit(conn, "pay-c-" + user, user, "EUR", 400)
        back = ledger.credit(conn, "compensation", "pay-c-" + user, user, "EUR", 400)
        assert back.balance == 1_000
        assert ledger.credit(conn, "compensation", "pay-c-" + user, user, "EUR", 400).duplicate
        ledger.debit(conn, "pay-d-" + user, user, "EUR", 1)
        with pytest.raises(ledger.ReferenceConflict):  # more than was debited
            ledger.credit(conn, "compensation", "pay-d-" + user, user, "EUR", 2)
        # Compensating a payment that was never debited voids it: a late debit is refused.
        with pytest.raises(ledger.DebitNotFound):
            ledger.credit(conn, "compensation", "pay-late-" + user, user, "EUR", 50)
        with pytest.raises(ledger.PaymentVoided):
            ledger.debit(conn, "pay-late-" + user, user, "EUR", 50)
        assert ledger.balance(conn, user, "EUR") == 999


def test_refund_credit_is_idempotent_per_refund_id(ledger_dsn: str) -> None:
    user = new_user(ledger_dsn, 500)
    with connect(ledger_dsn) as conn:
        ledger.debit(conn, "pay-r-" + user, user, "EUR", 500)
        assert ledger.credit(conn, "refund", "ref-1-" + user, user, "EUR", 200).balance == 200
        assert ledger.credit(conn, "refund", "ref-1-" + user, user, "EUR", 200).duplicate
        assert ledger.credit(conn, "refund", "ref-2-" + user, user, "EUR", 100).balance == 300


def test_concurrent_debits_never_overdraw_and_conserve_money(ledger_dsn: str) -> None:
    start = 10_000
    user = new_user(ledger_dsn, start, "CHF")
    before = totals(ledger_dsn, "CHF")
    amounts = [137 + (i % 7) * 50 for i in range(120)]  # 120 debits asking for far more than 10,000

    def attempt(i: int) -> str:
        with connect(ledger_dsn) as conn:
            try:
                ledger.debit(conn, f"pay-conc-{i}-{user}", user, "CHF", amounts[i])
            except ledger.InsufficientFunds:
                return "refused"
            # Every debit is retried once: the retry must move nothing.
            assert ledger.debit(conn, f"pay-conc-{i}-{user}", user, "CHF", amounts[i]).duplicate
            return "applied"

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(attempt, range(len(amounts))))

    applied = [amounts[i] for i, o in enumerate(outcomes) if o == "applied"]
    with connect(ledger_dsn) as conn:
        balance = ledger.balance(conn, user, "CHF")
        (debits,) = conn.execute(
            "SELECT count(*) FROM ledger.movements m"
            " JOIN ledger.accounts a ON a.account_id = m.user_account_id"
            " WHERE a.user_id = %s AND m.kind = 'debit'",
            (user,),
        ).fetchone()  # type: ignore[misc]
    assert balance is not None and balance >= 0
    assert balance == start - sum(applied)
    assert debits == len(applied)
    assert "refused" in outcomes  # the account really ran dry under contention
    refused = [amounts[i] for i, o in enumerate(outcomes) if o == "refused"]
    assert balance < min(refused)  # a refusal only ever meant the money was not there
    assert totals(ledger_dsn, "CHF") == before


def test_concurrent_retries_of_one_debit_move_money_once(ledger_dsn: str) -> None:
    user = new_user(ledger_dsn, 1_000)

    def attempt(_i: int) -> bool:
        with connect(ledger_dsn) as conn:
            return ledger.debit(conn, "pay-same-" + user, user, "EUR", 300).duplicate

    with ThreadPoolExecutor(max_workers=12) as pool:
        duplicates = list(pool.map(attempt, range(24)))
    assert duplicates.count(False) == 1
    with connect(ledger_dsn) as conn:
        assert ledger.balance(conn, user, "EUR") == 700


def test_one_payment_id_on_two_accounts_books_once(ledger_dsn: str) -> None:
    first, second = new_user(ledger_dsn, 1_000), new_user(ledger_dsn, 1_000)
    payment = "pay-shared-" + first

    def attempt(user: str) -> str:
        with connect(ledger_dsn) as conn:
            try:
                return (
                    "applied" if not ledger.debit(conn, payment, user, "EUR", 10).duplicate else "duplicate"
                )
            except ledger.ReferenceConflict:
                return "conflict"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, [first, second] * 8))
    assert outcomes.count("applied") == 1
    with connect(ledger_dsn) as conn:
        balances = sorted([ledger.balance(conn, first, "EUR"), ledger.balance(conn, second, "EUR")])  # type: ignore[type-var]
    assert balances == [990, 1_000]


def _wait_for_a_lock_wait(dsn: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(dsn, autocommit=True) as watcher:
        while time.monotonic() < deadline:
            (waiting,) = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).fetchone()  # type: ignore[misc]
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the debit never waited for the row lock")


def test_a_void_committed_while_a_debit_waits_for_the_row_lock_refuses_the_debit(ledger_dsn: str) -> None:
    """The debit reads what its rules need in a statement of its own after the lock: one that
    started before the lock was granted would not see the void committed meanwhile."""
    user = new_user(ledger_dsn, 1_000)
    payment = "pay-raced-" + user
    with connect(ledger_dsn) as holder, ThreadPoolExecutor(max_workers=1) as pool:
        # What a compensation of a payment never debited does: under the user's row lock, void it.
        holder.execute(
            "SELECT 1 FROM ledger.accounts WHERE kind = 'user' AND user_id = %s FOR UPDATE", (user,)
        )
        holder.execute("INSERT INTO ledger.voided_payments (payment_id) VALUES (%s)", (payment,))

        def debit() -> ledger.Movement:
            with connect(ledger_dsn) as conn:
                return ledger.debit(conn, payment, user, "EUR", 300)

        pending = pool.submit(debit)
        _wait_for_a_lock_wait(ledger_dsn)
        holder.commit()
        with pytest.raises(ledger.PaymentVoided):
            pending.result(timeout=10)
    with connect(ledger_dsn) as conn:
        assert ledger.balance(conn, user, "EUR") == 1_000
