"""Retries through the gateway: a byte-identical retry gets the idempotent answer, never a 401; a
captured request cannot become a new payment or refund, even after Redis lost its state; reads
may be repeated within the timestamp window; a payment that failed on our side can be retried
with the same Idempotency-Key.

Requests are captured as the client sent them (`response.request`) and sent again unchanged, so
these tests do not depend on how the client signs.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from apps.gateway.client import SigningAuth
from tests.api.conftest import MoneyPath, assert_error

# These need the whole money path (make test-unit leaves them out).
pytestmark = pytest.mark.slow


def resend(
    money_path: MoneyPath, captured: requests.PreparedRequest, **header_changes: str
) -> requests.Response:
    """The captured request again, byte for byte (headers changed only where asked)."""
    again = captured.copy()
    again.headers.update(header_changes)
    return money_path.client.session.send(again, timeout=20)


def wait_ready(*urls: str, timeout: float = 30) -> None:
    """Until every URL's /readyz answered 200 three times in a row (each worker reconnected)."""
    until = time.monotonic() + timeout
    for url in urls:
        streak = 0
        while streak < 3:
            assert time.monotonic() < until, f"{url} not ready"
            try:
                ok = requests.get(f"{url}/readyz", timeout=2).status_code == 200
            except requests.RequestException:
                ok = False
            streak = streak + 1 if ok else 0
            time.sleep(0.05)


def test_a_byte_identical_retry_gets_the_stored_answer(money_path: MoneyPath) -> None:
    user = money_path.new_user(10_000)
    first = money_path.client.create_payment(money_path.payment(user, 300), idempotency_key="same-bytes")
    assert first.status_code == 201, first.text
    time.sleep(1.1)
    again = resend(money_path, first.request)
    assert (again.status_code, again.content) == (201, first.content)
    assert money_path.balance(user) == 10_000 - 300
    assert money_path.payments_of(user) == 1


def test_twenty_identical_requests_at_once_make_one_payment_and_no_401(money_path: MoneyPath) -> None:
    user = money_path.new_user(10_000)
    sent = money_path.payment(user, 250)
    prepared = requests.Request(
        "POST",
        money_path.gateway_url + "/api/v1/payments",
        json=sent,
        headers={"Idempotency-Key": "twenty-at-once"},
        auth=SigningAuth(money_path.client.api_key, money_path.client.api_secret),
    ).prepare()
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _i: requests.Session().send(prepared.copy(), timeout=30), range(20)))
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, statuses
    assert 201 in statuses
    for answer in answers:
        if answer.status_code == 409:
            assert_error(answer, 409, "idempotency_in_flight")
    created = [a.content for a in answers if a.status_code == 201]
    assert len(set(created)) == 1  # every 201 is the same payment, byte for byte
    assert money_path.payments_of(user) == 1
    assert money_path.balance(user) == 10_000 - 250


def test_a_repeated_read_within_the_window_is_served(money_path: MoneyPath) -> None:
    user = money_path.new_user(4_321)
    created = money_path.client.create_payment(money_path.payment(user, 21)).json()
    read = money_path.client.get_payment(created["payment_id"])
    assert read.status_code == 200
    again = resend(money_path, read.request)
    assert (again.status_code, again.content) == (200, read.content)
    balance = money_path.client.balance(user, money_path.currency)
    assert balance.status_code == 200
    assert resend(money_path, balance.request).json() == {
        "user_id": user,
        "currency": money_path.currency,
        "balance": 4_300,
    }


def test_a_captured_request_cannot_move_money_again_after_a_redis_restart(money_path: MoneyPath) -> None:
    user = money_path.new_user(10_000)
    payment = money_path.client.create_payment(money_path.payment(user, 1_000), idempotency_key="captured-1")
    assert payment.status_code == 201, payment.text
    refund = money_path.client.refund(payment.json()["payment_id"], 100)  # no Idempotency-Key
    assert refund.status_code == 201, refund.text

    # Redis keeps no state across a restart: whatever it held (stored answers, claims) is gone.
    with money_path.stopped("redis"):
        pass
    wait_ready(money_path.gateway_url, money_path.url("payment"))

    # The captured payment with another key: refused, nothing moves.
    other_key = resend(money_path, payment.request, **{"Idempotency-Key": "captured-2"})
    assert_error(other_key, 401, "invalid_signature")
    # The same bytes again: the first answer (from PostgreSQL), not a second payment.
    same = resend(money_path, payment.request)
    assert (same.status_code, same.content) == (201, payment.content)
    # The keyless refund again: the same refund, not a second one.
    refund_again = resend(money_path, refund.request)
    assert refund_again.status_code == 201, refund_again.text
    assert refund_again.json()["refund_id"] == refund.json()["refund_id"]

    assert money_path.payments_of(user) == 1
    assert money_path.balance(user) == 10_000 - 1_000 + 100
    got = money_path.client.get_payment(payment.json()["payment_id"]).json()
    assert got["refunded_amount"] == 100


def test_a_payment_that_failed_on_our_side_can_be_retried_with_the_same_key(money_path: MoneyPath) -> None:
    user = money_path.new_user(10_000)
    sent = money_path.payment(user, 700)
    with money_path.stopped("risk"):
        failed = money_path.client.create_payment(sent, idempotency_key="retry-after-outage")
    error = assert_error(failed, 503, "dependency_unavailable")
    assert (error["payment"]["status"], error["payment"]["failure_reason"]) == (
        "failed",
        "dependency_unavailable",
    )
    assert money_path.balance(user) == 10_000
    wait_ready(money_path.url("risk"))

    retried = money_path.client.create_payment(sent, idempotency_key="retry-after-outage")
    assert retried.status_code == 201, retried.text
    assert retried.json()["payment_id"] != error["payment"]["payment_id"]  # a new attempt
    # From now on the key answers with its final payment, byte for byte.
    again = money_path.client.create_payment(sent, idempotency_key="retry-after-outage")
    assert (again.status_code, again.content) == (201, retried.content)
    assert money_path.balance(user) == 10_000 - 700
    # The failed attempt stays readable as what it was.
    first = money_path.client.get_payment(error["payment"]["payment_id"]).json()
    assert (first["status"], first["failure_reason"]) == ("failed", "dependency_unavailable")
