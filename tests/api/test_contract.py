"""The public API end to end: every status code of the issue, with the body shape."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import requests

from tests.api.conftest import MoneyPath, assert_error

# These need the whole money path (make test-unit leaves them out).
pytestmark = pytest.mark.slow

PAYMENT_FIELDS = {
    "payment_id", "user_id", "amount", "currency", "payment_method", "channel", "description",
    "status", "failure_reason", "refunded_amount", "created_at", "updated_at",
}  # fmt: skip


def assert_payment(body: dict[str, Any], sent: dict[str, Any], status: str) -> None:
    assert set(body) >= PAYMENT_FIELDS, body
    for key in ("user_id", "amount", "currency", "payment_method"):
        assert body[key] == sent[key]
    assert body["status"] == status


def test_payment_succeeds_with_201_and_moves_the_amount(money_path: MoneyPath) -> None:
    user = money_path.new_user(100_000)
    sent = money_path.payment(user, 12_345, description="order 42")
    response = money_path.client.create_payment(sent)
    assert response.status_code == 201, response.text
    assert_payment(response.json(), sent, "succeeded")
    assert response.json()["description"] == "order 42"
    assert money_path.balance(user) == 100_000 - 12_345


def test_same_key_and_body_replays_the_first_answer_byte_for_byte(money_path: MoneyPath) -> None:
    user = money_path.new_user(100_000)
    sent = money_path.payment(user, 500)
    first = money_path.client.create_payment(sent, idempotency_key="replay-me")
    again = money_path.client.create_payment(sent, idempotency_key="replay-me")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert money_path.balance(user) == 100_000 - 500


def test_get_payment_returns_the_merchants_payment(money_path: MoneyPath) -> None:
    user = money_path.new_user(10_000)
    created = money_path.client.create_payment(money_path.payment(user, 700)).json()
    response = money_path.client.get_payment(created["payment_id"])
    assert response.status_code == 200
    assert response.json()["payment_id"] == created["payment_id"]
    assert response.json()["status"] == "succeeded"


def test_risk_rejection_is_402_with_the_failed_payment(money_path: MoneyPath) -> None:
    user = money_path.new_user(100_000_000)
    sent = money_path.payment(user, 20_000_000)  # over risk's hard maximum
    before = money_path.balance(user)
    response = money_path.client.create_payment(sent)
    assert response.status_code == 402, response.text
    assert_payment(response.json(), sent, "failed")
    assert response.json()["failure_reason"] == "risk_rejected"
    assert money_path.balance(user) == before


def test_channel_decline_is_402_and_the_debit_is_credited_back(money_path: MoneyPath) -> None:
    user = money_path.new_user(50_000)
    sent = money_path.payment(user, 4_000)
    with money_path.channel_faults(decline_rate=1.0):
        response = money_path.client.create_payment(sent)
    assert response.status_code == 402, response.text
    assert_payment(response.json(), sent, "failed")
    assert response.json()["failure_reason"] == "channel_declined"
    assert money_path.balance(user) == 50_000


def test_insufficient_funds_is_402(money_path: MoneyPath) -> None:
    user = money_path.new_user(100)
    response = money_path.client.create_payment(money_path.payment(user, 101))
    assert response.status_code == 402, response.text
    assert response.json()["failure_reason"] == "insufficient_funds"
    assert money_path.balance(user) == 100


def test_idempotency_key_with_another_body_is_409(money_path: MoneyPath) -> None:
    user = money_path.new_user(10_000)
    assert money_path.client.create_payment(money_path.payment(user, 100), idempotency_key="k-409").ok
    response = money_path.client.create_payment(money_path.payment(user, 200), idempotency_key="k-409")
    assert_error(response, 409, "idempotency_conflict")
    assert money_path.balance(user) == 10_000 - 100


def test_concurrent_duplicate_in_flight_is_409(money_path: MoneyPath) -> None:
    user = money_path.new_user(10_000)
    sent = money_path.payment(user, 300)
    results: dict[str, requests.Response] = {}
    with money_path.channel_faults(latency_ms=1500, latency_sigma=0):

        def send_first() -> None:
            results["first"] = money_path.client.create_payment(sent, idempotency_key="k-fly")

        first = threading.Thread(target=send_first)
        first.start()
        # Wait until the first request holds the key (its payment row exists), then send the duplicate.
        deadline = time.monotonic() + 10
        while money_path.payments_of(user) == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        second = money_path.client.create_payment(sent, idempotency_key="k-fly")
        first.join()
    assert_error(second, 409, "idempotency_in_flight")
    assert results["first"].status_code == 201
    assert money_path.balance(user) == 10_000 - 300


def test_refunds_partial_then_over_the_captured_amount(money_path: MoneyPath) -> None:
    user = money_path.new_user(10_000)
    payment = money_path.client.create_payment(money_path.payment(user, 1_000)).json()
    first = money_path.client.refund(payment["payment_id"], 400)
    assert first.status_code == 201, first.text
    assert {"refund_id", "payment_id", "amount", "status"} <= set(first.json())
    assert first.json()["amount"] == 400
    too_much = money_path.client.refund(payment["payment_id"], 601)
    assert_error(too_much, 422, "refund_exceeds_captured")
    assert money_path.client.refund(payment["payment_id"], 600).status_code == 201
    assert money_path.balance(user) == 10_000
    assert money_path.client.get_payment(payment["payment_id"]).json()["refunded_amount"] == 1_000


def test_another_merchants_payment_is_404_and_cannot_be_refunded(money_path: MoneyPath) -> None:
    user = money_path.new_user(10_000)
    payment = money_path.client.create_payment(money_path.payment(user, 900)).json()
    other = money_path.new_merchant()
    before = money_path.snapshot()
    assert_error(other.get_payment(payment["payment_id"]), 404)
    assert_error(other.refund(payment["payment_id"], 100), 404)
    assert_error(other.get_payment("00000000-0000-0000-0000-000000000000"), 404)
    assert money_path.snapshot() == before


def test_balance_of_own_customer_and_404_for_others(money_path: MoneyPath) -> None:
    user = money_path.new_user(7_777)
    response = money_path.client.balance(user, money_path.currency)
    assert response.status_code == 200
    assert response.json() == {"user_id": user, "currency": money_path.currency, "balance": 7_777}
    assert_error(money_path.new_merchant().balance(user, money_path.currency), 404, "account_not_found")
    assert_error(money_path.client.balance(user, "XXX"), 422, "invalid_field")


def test_oversized_body_is_413(money_path: MoneyPath) -> None:
    user = money_path.new_user(10_000)
    body = b'{"user_id": "' + user.encode() + b'", "description": "' + b"x" * 17_000 + b'"}'
    before = money_path.snapshot()
    headers = {"Idempotency-Key": "big"}
    response = money_path.client.send("POST", "/api/v1/payments", body=body, headers=headers)
    assert_error(response, 413, "payload_too_large")
    assert money_path.snapshot() == before


def test_rate_limit_is_429_with_retry_after(money_path: MoneyPath) -> None:
    merchant = money_path.new_merchant(rate_limit_per_minute=3)
    answers = [merchant.get_payment("00000000-0000-0000-0000-000000000000") for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [404, 404, 404]
    error = assert_error(answers[3], 429, "rate_limited")
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 60, error
    # Another merchant is not affected.
    assert money_path.new_merchant(rate_limit_per_minute=3).get_payment("x").status_code == 404


def test_deadline_already_spent_is_504_and_nothing_moves(money_path: MoneyPath) -> None:
    user = money_path.new_user(10_000)
    before = money_path.snapshot()
    response = money_path.client.send(
        "POST",
        "/api/v1/payments",
        body=b'{"user_id": "%s", "amount": 100, "currency": "EUR", "payment_method": "card"}' % user.encode(),
        headers={"Idempotency-Key": "no-time", "X-Deadline-Ms": "10"},
    )
    assert_error(response, 504)
    assert money_path.snapshot() == before


def test_payment_service_down_is_503_and_nothing_moves(money_path: MoneyPath) -> None:
    user = money_path.new_user(10_000)
    before = money_path.snapshot()
    with money_path.stopped("payment"):
        response = money_path.client.create_payment(money_path.payment(user, 100))
    assert_error(response, 503, "dependency_unavailable")
    assert money_path.snapshot() == before


def test_risk_down_is_503_and_no_money_moves(money_path: MoneyPath) -> None:
    user = money_path.new_user(10_000)
    with money_path.stopped("risk"):
        response = money_path.client.create_payment(money_path.payment(user, 100))
    error = assert_error(response, 503, "dependency_unavailable")
    # The payment service says what became of the payment: failed, before any money moved.
    assert error["payment"]["status"] == "failed", error
    assert money_path.balance(user) == 10_000


def test_channel_timeout_is_504_and_no_money_is_lost(money_path: MoneyPath) -> None:
    user = money_path.new_user(10_000)
    with money_path.channel_faults(timeout_rate=1.0):
        response = money_path.client.create_payment(money_path.payment(user, 2_500))
    error = assert_error(response, 504)
    # The payment service's own answer, passed through: where the payment stands.
    payment = error["payment"]
    assert payment["status"] in ("pending", "failed"), error
    # The reconciler makes it final: captured (the provider did charge) or credited back.
    money_path.reconcile()
    final = money_path.client.get_payment(payment["payment_id"]).json()
    assert final["status"] in ("succeeded", "failed"), final
    captured = 2_500 if final["status"] == "succeeded" else 0
    assert money_path.balance(user) == 10_000 - captured
