"""Concurrency on the real money path: one key hammered at once, and money conserved under faults."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from apps.payment import clients
from apps.payment.reconcile import reconcile
from tests.services.payment_harness import PaymentServices


@pytest.fixture
def money(payment_services: PaymentServices) -> Iterator[PaymentServices]:
    payment_services.reset_faults()
    yield payment_services
    payment_services.reset_faults()


def test_one_key_sent_100_times_at_once_makes_one_payment_and_one_debit(money: PaymentServices) -> None:
    user = money.new_users(1, 1_000_000)[0]
    key = uuid.uuid4().hex
    start = threading.Barrier(100)

    def send(_: int) -> requests.Response:
        start.wait()
        return money.pay(user, 1_234, key=key, timeout=30)

    with ThreadPoolExecutor(max_workers=100) as pool:
        answers = list(pool.map(send, range(100)))

    created = [a for a in answers if a.status_code == 201]
    conflicts = [a for a in answers if a.status_code == 409]
    assert len(created) + len(conflicts) == 100, sorted({a.status_code for a in answers})
    assert created, "at least the request that won the key answers 201"
    assert len({a.content for a in created}) == 1  # every 201 is the same payment, byte for byte
    assert {a.json()["error"]["code"] for a in conflicts} <= {"idempotency_in_flight"}
    payment_id = created[0].json()["payment_id"]
    assert money.query("SELECT payment_id::text FROM payment.payments WHERE user_id = %s", user) == [
        (payment_id,)
    ]
    debits = money.query(
        "SELECT count(*) FROM ledger.movements WHERE kind = 'debit' AND reference_id = %s", payment_id
    )
    assert debits == [(1,)]
    assert money.balance(user) == 1_000_000 - 1_234


def test_concurrent_refunds_never_exceed_the_captured_amount(money: PaymentServices) -> None:
    user = money.new_users(1, 10_000)[0]
    pid = money.pay(user, 1_000).json()["payment_id"]
    start = threading.Barrier(10)

    def refund(_: int) -> int:
        start.wait()
        return money.refund(pid, 300).status_code

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = sorted(pool.map(refund, range(10)))
    assert statuses == [201] * 3 + [422] * 7
    assert money.balance(user) == 10_000 - 1_000 + 900


USERS = 20
START_BALANCE = 200_000
OPERATIONS = 1_000


def _run_random_traffic(money: PaymentServices, users: list[str], seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    plan = [
        ("pay", rng.choice(users), rng.randint(1, 20_000)) if rng.random() < 0.7 else ("refund", "", 0)
        for _ in range(OPERATIONS)
    ]
    succeeded: list[dict[str, Any]] = []
    lock = threading.Lock()
    statuses: dict[str, int] = {}

    def one(step: tuple[str, str, int]) -> None:
        kind, user, amount = step
        if kind == "pay":
            answer = money.pay(user, amount, method=rng.choice(["card", "wallet", "bank_transfer"]))
            if answer.status_code == 201:
                with lock:
                    succeeded.append(answer.json())
        else:
            with lock:
                if not succeeded:
                    return
                target = rng.choice(succeeded)
            answer = money.refund(target["payment_id"], rng.randint(1, target["amount"]))
        with lock:
            label = f"{kind} {answer.status_code}"
            statuses[label] = statuses.get(label, 0) + 1

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, plan))
    return statuses


def _charges_held_past_the_deadline(money: PaymentServices) -> float:
    return sum(
        value
        for (name, labels), value in money.samples(money.urls["channel"]).items()
        if name == "channel_requests_total" and ("outcome", "timeout") in labels
    )


def test_money_is_conserved_under_channel_failures_and_timeouts(money: PaymentServices, app_env: Any) -> None:
    users = money.new_users(USERS, START_BALANCE)
    money.set_faults(error_rate=0.2, timeout_rate=0.05, decline_rate=0.05, latency_ms=3)
    held_before = _charges_held_past_the_deadline(money)
    statuses = _run_random_traffic(money, users, seed=20261122)
    money.reset_faults()
    # The traffic had every outcome the test is about. A charge the provider held past the
    # caller's deadline ends in a 504 only when its second attempt fails as well (it usually finds
    # the provider free again and gets an answer), so the timeouts are counted at the provider.
    assert statuses.get("pay 201", 0) > 100 and statuses.get("refund 201", 0) > 20, statuses
    assert statuses.get("pay 503", 0) > 0, statuses
    assert _charges_held_past_the_deadline(money) - held_before > 0

    # Every request has answered; the provider may still be finishing a charge we gave up on.
    money.wait_channel_idle()
    app_env("payment", DATABASE_URL=money.dsn, **money.payment_env())
    clients.reset()
    for _ in range(3):
        if reconcile(older_than_s=0).still_open == 0:
            break
    placeholders = ",".join(["%s"] * len(users))
    open_payments = money.query(
        f"SELECT count(*) FROM payment.payments WHERE user_id IN ({placeholders})"
        " AND state NOT IN ('succeeded', 'failed')",
        *users,
    )
    open_refunds = money.query(
        "SELECT count(*) FROM payment.refunds r JOIN payment.payments p USING (payment_id)"
        f" WHERE p.user_id IN ({placeholders}) AND r.state NOT IN ('succeeded', 'failed')",
        *users,
    )
    assert open_payments == [(0,)] and open_refunds == [(0,)]

    balances = [money.balance(u) for u in users]
    assert min(balances) >= 0
    [(captured,)] = money.query(
        "SELECT coalesce(sum(amount - refunded_amount), 0) FROM payment.payments"
        f" WHERE state = 'succeeded' AND user_id IN ({placeholders})",
        *users,
    )
    assert sum(balances) + captured == USERS * START_BALANCE

    # Our records agree with the provider's: every success was charged, no compensated payment was.
    rows = money.query(
        f"SELECT payment_id::text, state FROM payment.payments WHERE user_id IN ({placeholders})", *users
    )
    session = requests.Session()
    session.auth = money.as_caller("payment")
    for payment_id, state in rows:
        charge = session.get(f"{money.urls['channel']}/v1/charges/{payment_id}", timeout=5)
        approved = charge.status_code == 200 and charge.json()["status"] == "approved"
        assert approved == (state == "succeeded"), (payment_id, state, charge.text)
