"""The payment service on the real money path: account, risk and channel under gunicorn.

Each outcome is checked where it matters: the answer, the user's balance, the ledger's
movements, the payment's stored state and its outbox event.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.services.payment_harness import MERCHANT, PaymentServices
from tests.services.service_harness import catalog_shape, exposed_shape, free_port

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def money(payment_services: PaymentServices) -> Iterator[PaymentServices]:
    """The services with the channel's fault switches reset before and after the test."""
    payment_services.reset_faults()
    yield payment_services
    payment_services.reset_faults()


def movements(s: PaymentServices, reference: str) -> list[tuple[str, int]]:
    rows = s.query(
        "SELECT kind, amount FROM ledger.movements WHERE reference_id = %s ORDER BY kind", reference
    )
    return [(kind, amount) for kind, amount in rows]


def outbox(s: PaymentServices, payment_id: str) -> list[dict[str, Any]]:
    rows = s.query(
        "SELECT topic, key, event_type, payload, headers FROM payment.outbox"
        " WHERE key = %s ORDER BY created_at",
        payment_id,
    )
    return [{"topic": t, "key": k, "type": e, "payload": p, "headers": h} for t, k, e, p, h in rows]


def stored_state(s: PaymentServices, payment_id: str) -> str:
    return str(s.query("SELECT state FROM payment.payments WHERE payment_id = %s", payment_id)[0][0])


def test_a_payment_succeeds_debits_once_and_writes_its_event_with_the_trace(money: PaymentServices) -> None:
    user = money.new_users(1, 10_000)[0]
    body = {
        "user_id": user,
        "amount": 2_500,
        "currency": "EUR",
        "payment_method": "wallet",
        "description": "tea",
    }
    headers = {
        "X-Merchant-Id": MERCHANT,
        "Idempotency-Key": uuid.uuid4().hex,
        "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01",
    }
    answer = requests.post(
        f"{money.payment}/v1/payments",
        json=body,
        headers=headers,
        auth=money.as_caller("gateway"),
        timeout=15,
    )
    assert answer.status_code == 201, answer.text
    payment = answer.json()
    assert payment["status"] == "succeeded" and payment["failure_reason"] is None
    assert (payment["amount"], payment["channel"], payment["description"]) == (2_500, "wallet", "tea")
    assert money.balance(user) == 7_500
    assert movements(money, payment["payment_id"]) == [("debit", 2_500)]
    assert stored_state(money, payment["payment_id"]) == "succeeded"
    # Booked straight from debited, with its event: the provider's reference is kept with the success.
    [[provider_ref]] = money.query(
        "SELECT provider_ref FROM payment.payments WHERE payment_id = %s", payment["payment_id"]
    )
    assert provider_ref
    [event] = outbox(money, payment["payment_id"])
    assert (event["topic"], event["type"]) == ("payments", "payment.succeeded")
    assert event["payload"]["amount"] == 2_500 and event["payload"]["status"] == "succeeded"
    assert event["headers"]["traceparent"].split("-")[1] == TRACE_ID
    got = requests.get(
        f"{money.payment}/v1/payments/{payment['payment_id']}",
        headers={"X-Merchant-Id": MERCHANT},
        auth=money.as_caller("gateway"),
        timeout=5,
    )
    assert got.status_code == 200 and got.json() == payment


def test_a_declined_charge_is_credited_back(money: PaymentServices) -> None:
    money.set_faults(decline_rate=1.0)
    user = money.new_users(1, 10_000)[0]
    answer = money.pay(user, 4_000)
    assert answer.status_code == 402, answer.text
    payment = answer.json()
    assert (payment["status"], payment["failure_reason"]) == ("failed", "channel_declined")
    assert money.balance(user) == 10_000
    assert movements(money, payment["payment_id"]) == [("compensation", 4_000), ("debit", 4_000)]
    assert [e["type"] for e in outbox(money, payment["payment_id"])] == ["payment.failed"]


def test_a_risk_reject_moves_no_money(money: PaymentServices) -> None:
    user = money.new_users(1, 100_000_000)[0]
    answer = money.pay(user, 50_000_000)  # above the risk service's hard limit
    assert answer.status_code == 402, answer.text
    assert (answer.json()["status"], answer.json()["failure_reason"]) == ("failed", "risk_rejected")
    assert money.balance(user) == 100_000_000
    assert movements(money, answer.json()["payment_id"]) == []


def test_insufficient_funds_is_a_402_without_movement(money: PaymentServices) -> None:
    user = money.new_users(1, 100)[0]
    answer = money.pay(user, 101)
    assert answer.status_code == 402, answer.text
    assert answer.json()["failure_reason"] == "insufficient_funds"
    assert money.balance(user) == 100
    assert movements(money, answer.json()["payment_id"]) == []


def test_a_channel_error_is_a_503_with_the_debit_credited_back(money: PaymentServices) -> None:
    money.set_faults(error_rate=1.0)
    user = money.new_users(1, 10_000)[0]
    answer = money.pay(user, 1_000)
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert error["code"] == "dependency_unavailable"
    assert (error["payment"]["status"], error["payment"]["failure_reason"]) == ("failed", "channel_error")
    assert money.balance(user) == 10_000
    assert movements(money, error["payment"]["payment_id"]) == [("compensation", 1_000), ("debit", 1_000)]


def test_a_channel_timeout_is_a_504_and_the_reconciler_credits_the_debit_back(money: PaymentServices) -> None:
    money.set_faults(timeout_rate=1.0)
    user = money.new_users(1, 10_000)[0]
    answer = money.pay(user, 1_000)
    assert answer.status_code == 504, answer.text
    error = answer.json()["error"]
    assert error["code"] == "deadline_exceeded"
    # The provider may still be working on the charge: the payment is not guessed failed.
    payment_id = error["payment"]["payment_id"]
    assert error["payment"]["status"] == "pending"
    assert stored_state(money, payment_id) == "debited"
    assert money.balance(user) == 9_000
    money.reset_faults()
    money.reconcile()
    assert stored_state(money, payment_id) == "failed"
    assert money.balance(user) == 10_000
    assert movements(money, payment_id) == [("compensation", 1_000), ("debit", 1_000)]


def test_a_charge_answered_late_is_asked_again_not_guessed(money: PaymentServices) -> None:
    # After a timeout the charge is sent again (idempotent); the provider's verdict decides.
    url = money.start_payment(name="payment-retry", workers=1, PAYMENT_CHANNEL_TIMEOUT_MS="150")
    user = money.new_users(1, 100_000)[0]
    money.set_faults(timeout_rate=0.5)
    answers = [money.pay(user, 100, url=url) for _ in range(20)]
    money.reset_faults()
    assert {a.status_code for a in answers} <= {201, 504}
    gave_up = sum(a.status_code == 504 for a in answers)
    samples = money.samples(url)
    # A lost answer: no response in time (status 0) or the provider's own 504 after the deadline.
    timeouts = sum(
        samples.get(
            (
                "http_client_request_duration_seconds_count",
                (
                    ("http_request_method", "POST"),
                    ("http_response_status_code", status),
                    ("server_address", "channel"),
                ),
            ),
            0,
        )
        for status in ("0", "504")
    )
    assert timeouts > 2 * gave_up  # some timed-out charges were settled by asking again
    money.reconcile()
    rows = money.query("SELECT payment_id::text, state FROM payment.payments WHERE user_id = %s", user)
    assert len(rows) == 20
    for payment_id, state in rows:
        charge = requests.get(
            f"{money.urls['channel']}/v1/charges/{payment_id}", auth=money.as_caller("payment"), timeout=5
        )
        approved = charge.status_code == 200 and charge.json()["status"] == "approved"
        assert approved == (state == "succeeded"), (payment_id, state)
    assert money.balance(user) == 100_000 - 100 * sum(state == "succeeded" for _, state in rows)


def test_risk_unreachable_is_a_503_and_moves_no_money(money: PaymentServices) -> None:
    url = money.start_payment(name="payment-no-risk", workers=1, RISK_URL=f"http://127.0.0.1:{free_port()}")
    user = money.new_users(1, 10_000)[0]
    answer = money.pay(user, 100, url=url)
    assert answer.status_code == 503, answer.text
    payment = answer.json()["error"]["payment"]
    assert (payment["status"], payment["failure_reason"]) == ("failed", "dependency_unavailable")
    assert money.balance(user) == 10_000
    assert movements(money, payment["payment_id"]) == []


def test_a_payment_failed_on_our_side_is_a_new_attempt_when_retried_with_its_key(
    money: PaymentServices,
) -> None:
    url = money.start_payment(name="payment-risk-gone", workers=1, RISK_URL=f"http://127.0.0.1:{free_port()}")
    user = money.new_users(1, 10_000)[0]
    key = uuid.uuid4().hex
    failed = money.pay(user, 100, key=key, url=url)
    assert failed.status_code == 503, failed.text
    first = failed.json()["error"]["payment"]
    # While the dependency is still down, each retry is a new attempt that fails the same way.
    assert money.pay(user, 100, key=key, url=url).status_code == 503
    # Once it is back, a retry with the same key and body succeeds: one payment captured.
    retried = money.pay(user, 100, key=key)
    assert retried.status_code == 201, retried.text
    assert retried.json()["payment_id"] != first["payment_id"]
    assert (money.pay(user, 100, key=key).status_code, money.pay(user, 100, key=key).content) == (
        201,
        retried.content,
    )
    # Another body under the key is still a conflict, and a final decline is never retried.
    assert money.pay(user, 101, key=key).json()["error"]["code"] == "idempotency_conflict"
    assert money.balance(user) == 10_000 - 100
    # Attempt 1 keeps the key; attempt n stores key + "\x1f" + n (apps/payment/migrations/002).
    attempts = money.query(
        "SELECT state, failure_reason FROM payment.payments"
        " WHERE merchant_id = %s AND (idempotency_key = %s OR idempotency_key LIKE %s) ORDER BY attempt",
        MERCHANT,
        key,
        key + "\x1f%",
    )
    assert attempts == [
        ("failed", "dependency_unavailable"),
        ("failed", "dependency_unavailable"),
        ("succeeded", None),
    ]


def test_the_breaker_opens_and_then_fails_fast_without_calling_the_channel(money: PaymentServices) -> None:
    url = money.start_payment(
        name="payment-breaker", workers=1, PAYMENT_BREAKER_FAIL_MAX="2", PAYMENT_BREAKER_RESET_S="600"
    )
    user = money.new_users(1, 100_000)[0]
    money.set_faults(error_rate=1.0)
    first = money.pay(user, 100, url=url)
    assert first.status_code == 503 and first.json()["error"]["payment"]["failure_reason"] == "channel_error"
    assert money.samples(url)[("circuit_breaker_state", (("dependency", "channel"),))] == 1
    errors = ("channel_requests_total", (("channel", "card"), ("outcome", "error")))
    before = money.samples(money.urls["channel"])[errors]
    money.reset_faults()  # the channel is healthy again, but the breaker stays open until its reset
    second = money.pay(user, 100, url=url)
    assert second.status_code == 503, second.text
    assert second.json()["error"]["payment"]["failure_reason"] == "channel_error"
    assert money.samples(money.urls["channel"])[errors] == before
    assert money.balance(user) == 100_000


def test_the_same_key_replays_the_same_bytes_and_another_body_conflicts(money: PaymentServices) -> None:
    user = money.new_users(1, 10_000)[0]
    key = uuid.uuid4().hex
    first = money.pay(user, 700, key=key)
    assert first.status_code == 201
    again = money.pay(user, 700, key=key)
    assert (again.status_code, again.content) == (201, first.content)
    other = money.pay(user, 701, key=key)
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"
    assert money.balance(user) == 9_300
    # The key belongs to the merchant: another merchant's same key is another payment.
    assert money.pay(user, 700, key=key, merchant="merchant-other").status_code == 201
    assert money.balance(user) == 8_600


def test_a_failed_payment_replays_its_402(money: PaymentServices) -> None:
    user = money.new_users(1, 10)[0]
    key = uuid.uuid4().hex
    first = money.pay(user, 500, key=key)
    assert first.status_code == 402
    assert (money.pay(user, 500, key=key).status_code, money.pay(user, 500, key=key).content) == (
        402,
        first.content,
    )


def test_partial_refunds_never_exceed_the_captured_amount(money: PaymentServices) -> None:
    user = money.new_users(1, 10_000)[0]
    payment = money.pay(user, 1_000).json()
    pid = payment["payment_id"]
    first = money.refund(pid, 300)
    assert first.status_code == 201, first.text
    assert (first.json()["status"], first.json()["amount"]) == ("succeeded", 300)
    assert money.refund(pid, 700).status_code == 201
    over = money.refund(pid, 1)
    assert over.status_code == 422 and over.json()["error"]["code"] == "refund_exceeds_captured"
    assert money.balance(user) == 10_000
    got = requests.get(
        f"{money.payment}/v1/payments/{pid}",
        headers={"X-Merchant-Id": MERCHANT},
        auth=money.as_caller("gateway"),
        timeout=5,
    )
    assert got.json()["refunded_amount"] == 1_000
    refunds = [e for e in outbox(money, pid) if e["type"] == "payment.refunded"]
    assert sorted(e["payload"]["refund"]["amount"] for e in refunds) == [300, 700]
    kinds = [kind for kind, _ in movements(money, first.json()["refund_id"])]
    assert kinds == ["refund"]


def test_refund_idempotency_key_returns_the_same_refund(money: PaymentServices) -> None:
    user = money.new_users(1, 10_000)[0]
    pid = money.pay(user, 1_000).json()["payment_id"]
    first = money.refund(pid, 400, key="r1")
    again = money.refund(pid, 400, key="r1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert money.refund(pid, 401, key="r1").status_code == 409
    assert money.balance(user) == 9_400


def test_only_the_owning_merchant_sees_or_refunds_a_payment(money: PaymentServices) -> None:
    user = money.new_users(1, 10_000)[0]
    pid = money.pay(user, 1_000).json()["payment_id"]
    other = {"X-Merchant-Id": "merchant-other"}
    gateway = money.as_caller("gateway")
    assert (
        requests.get(f"{money.payment}/v1/payments/{pid}", headers=other, auth=gateway, timeout=5).status_code
        == 404
    )
    assert money.refund(pid, 100, merchant="merchant-other").status_code == 404
    assert (
        requests.get(
            f"{money.payment}/v1/payments/not-a-uuid", headers=other, auth=gateway, timeout=5
        ).status_code
        == 404
    )
    assert money.balance(user) == 9_000


def test_a_declined_refund_releases_its_reservation(money: PaymentServices) -> None:
    user = money.new_users(1, 10_000)[0]
    pid = money.pay(user, 1_000).json()["payment_id"]
    money.set_faults(decline_rate=1.0)
    declined = money.refund(pid, 1_000)
    assert declined.status_code == 402 and declined.json()["failure_reason"] == "channel_declined"
    money.reset_faults()
    assert money.refund(pid, 1_000).status_code == 201
    assert money.balance(user) == 10_000


def test_a_failed_payment_is_not_refundable(money: PaymentServices) -> None:
    user = money.new_users(1, 10)[0]
    pid = money.pay(user, 500).json()["payment_id"]
    answer = money.refund(pid, 100)
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "payment_not_refundable"


@pytest.mark.parametrize(
    "body",
    [
        {"user_id": "u", "amount": 1.5, "currency": "EUR", "payment_method": "card"},
        {"user_id": "u", "amount": 0, "currency": "EUR", "payment_method": "card"},
        {"user_id": "u", "amount": "10", "currency": "EUR", "payment_method": "card"},
        {"user_id": "u", "amount": 10, "currency": "eur", "payment_method": "card"},
        {"user_id": "u", "amount": 10, "currency": "EUR", "payment_method": "cash"},
        {"user_id": "u", "amount": 10, "currency": "EUR", "payment_method": "card", "cvv": "123"},
        {"amount": 10, "currency": "EUR", "payment_method": "card"},
        # PostgreSQL text cannot hold NUL: refused when parsed, never a failed write (500).
        {"user_id": "u\u0000", "amount": 10, "currency": "EUR", "payment_method": "card"},
        {"user_id": "u\n1", "amount": 10, "currency": "EUR", "payment_method": "card"},
        {
            "user_id": "u",
            "amount": 10,
            "currency": "EUR",
            "payment_method": "card",
            "description": "a\u0000b",
        },
    ],
)
def test_invalid_bodies_are_422_and_write_nothing(money: PaymentServices, body: dict[str, Any]) -> None:
    key = uuid.uuid4().hex
    headers = {"X-Merchant-Id": MERCHANT, "Idempotency-Key": key}
    answer = requests.post(
        f"{money.payment}/v1/payments", json=body, headers=headers, auth=money.as_caller("gateway"), timeout=5
    )
    assert answer.status_code == 422, answer.text
    assert set(answer.json()["error"]) >= {"code", "message", "field"}
    assert money.query("SELECT 1 FROM payment.payments WHERE idempotency_key = %s", key) == []


def test_an_unreachable_idempotency_store_refuses_the_payment(money: PaymentServices) -> None:
    url = money.start_payment(
        name="payment-no-redis",
        workers=1,
        ready_path="/healthz",
        REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
    )
    user = money.new_users(1, 10_000)[0]
    answer = money.pay(user, 100, url=url)
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "idempotency_store_unavailable"
    assert money.balance(user) == 10_000
    assert money.query("SELECT 1 FROM payment.payments WHERE user_id = %s", user) == []
    assert money.samples(url)[("payment_idempotency_store_errors_total", ())] == 1
    assert requests.get(f"{url}/readyz", timeout=5).status_code == 503


def _insert_stuck(s: PaymentServices, user: str, amount: int, state: str, pid: str | None = None) -> str:
    """A payment row as a crash an hour ago left it (its side effects are made before, by the caller)."""
    pid = pid or str(uuid.uuid4())
    s.query(
        "INSERT INTO payment.payments (payment_id, merchant_id, idempotency_key, request_fingerprint,"
        " user_id, amount, currency, payment_method, channel, state, updated_at) VALUES"
        " (%s, %s, %s, 'fp', %s, %s, 'EUR', 'card', 'card', %s, now() - interval '1 hour') RETURNING 1",
        pid,
        MERCHANT,
        uuid.uuid4().hex,
        user,
        amount,
        state,
    )
    return pid


def _debit(s: PaymentServices, pid: str, user: str, amount: int) -> str:
    body = {"payment_id": pid, "user_id": user, "currency": "EUR", "amount": amount}
    debit = requests.post(
        f"{s.urls['account']}/v1/ledger/debits", json=body, auth=s.as_caller("payment"), timeout=5
    )
    assert debit.status_code == 201, debit.text
    return pid


def test_the_reconciler_finishes_or_compensates_what_a_crash_left(money: PaymentServices) -> None:
    user = money.new_users(1, 100_000)[0]
    # Crashed after the debit, before the charge: compensated.
    never_charged = _insert_stuck(
        money, user, 1_000, "debited", _debit(money, str(uuid.uuid4()), user, 1_000)
    )
    # Crashed after the channel approved, before the answer was stored: completed.
    charged = _debit(money, str(uuid.uuid4()), user, 2_000)
    charge = {"payment_id": charged, "amount": 2_000, "currency": "EUR", "channel": "card"}
    assert (
        requests.post(
            f"{money.urls['channel']}/v1/charges", json=charge, auth=money.as_caller("payment"), timeout=5
        ).json()["status"]
        == "approved"
    )
    _insert_stuck(money, user, 2_000, "debited", charged)
    # Left in `charged` (approved, final bookkeeping pending): settled.
    settled = _debit(money, str(uuid.uuid4()), user, 6_000)
    _insert_stuck(money, user, 6_000, "charged", settled)
    # Crashed while the debit was in flight (it may or may not have happened): compensated or voided.
    maybe_debited = _insert_stuck(money, user, 3_000, "risk_approved")
    # Crashed before the risk answer: failed, nothing moved.
    created = _insert_stuck(money, user, 4_000, "created")
    # Crashed half-way through the compensation: finished.
    compensating = _insert_stuck(
        money, user, 5_000, "compensating", _debit(money, str(uuid.uuid4()), user, 5_000)
    )
    assert money.balance(user) == 100_000 - 1_000 - 2_000 - 5_000 - 6_000

    summary = money.reconcile(older_than=60)
    assert "still open 0" in summary, summary

    assert stored_state(money, never_charged) == "failed"
    assert stored_state(money, charged) == "succeeded"
    assert stored_state(money, settled) == "succeeded"
    assert stored_state(money, maybe_debited) == "failed"
    assert stored_state(money, created) == "failed"
    assert stored_state(money, compensating) == "failed"
    assert money.balance(user) == 100_000 - 2_000 - 6_000
    assert movements(money, maybe_debited) == []  # never debited: voided, nothing to give back
    late = {"payment_id": maybe_debited, "user_id": user, "currency": "EUR", "amount": 3_000}
    late_debit = requests.post(
        f"{money.urls['account']}/v1/ledger/debits", json=late, auth=money.as_caller("payment"), timeout=5
    )
    assert late_debit.status_code == 409 and late_debit.json()["error"]["code"] == "payment_voided"
    assert movements(money, created) == []
    assert [e["type"] for e in outbox(money, charged)] == ["payment.succeeded"]
    assert [e["type"] for e in outbox(money, settled)] == ["payment.succeeded"]
    assert [e["type"] for e in outbox(money, never_charged)] == ["payment.failed"]


def test_each_worker_reconciles_in_the_background(money: PaymentServices) -> None:
    money.start_payment(name="payment-background", workers=1, PAYMENT_RECONCILE_INTERVAL_S="0.2")
    user = money.new_users(1, 10_000)[0]
    pid = _insert_stuck(money, user, 700, "compensating", _debit(money, str(uuid.uuid4()), user, 700))
    until = time.monotonic() + 30
    while stored_state(money, pid) != "failed" and time.monotonic() < until:
        time.sleep(0.1)
    assert stored_state(money, pid) == "failed"
    assert money.balance(user) == 10_000


def test_metrics_are_the_catalogs(money: PaymentServices) -> None:
    user = money.new_users(1, 10_000)[0]
    pid = money.pay(user, 1_000).json()["payment_id"]
    money.refund(pid, 10)
    money.set_faults(decline_rate=1.0)
    assert money.pay(user, 1_000).status_code == 402  # a failure and a compensation
    text = requests.get(f"{money.payment}/metrics", timeout=5).text
    with_samples = {f.name for f in text_string_to_metric_families(text) if f.samples}
    exposed = {name: shape for name, shape in exposed_shape(text).items() if name in with_samples}
    declared = catalog_shape("payment")
    # The outbox families belong to the relay, which runs elsewhere; everything else is ours.
    relay = {
        "payment_outbox_backlog",
        "payment_outbox_published",
        "payment_outbox_publish_errors",
        "payment_outbox_replayed",
    }
    assert set(exposed) <= set(declared)
    # Families whose series appear only once something happens (an error) may be absent.
    assert set(declared) - set(exposed) <= relay | {"redis_client_errors"}
    for name, shape in exposed.items():
        assert shape == declared[name], name
    samples = money.samples(money.payment)
    assert (
        samples[("payments_total", (("channel", "card"), ("currency", "EUR"), ("status", "succeeded")))] >= 1
    )
    assert user not in str(samples) and pid not in str(samples)  # no ids in labels


def test_a_payment_stalled_on_the_ledger_is_left_for_the_reconciler(money: PaymentServices) -> None:
    import redis

    from apps.payment.idempotency import redis_key

    url = money.start_payment(
        name="payment-no-account", workers=1, ACCOUNT_URL=f"http://127.0.0.1:{free_port()}"
    )
    user = money.new_users(1, 10_000)[0]
    key = uuid.uuid4().hex
    answer = money.pay(user, 600, key=key, url=url)
    assert answer.status_code == 503, answer.text
    payment = answer.json()["error"]["payment"]
    assert payment["status"] == "pending"
    # The debit's answer was lost, and so was the compensation's: left for the reconciler.
    assert stored_state(money, payment["payment_id"]) == "compensating"
    assert money.pay(user, 600, key=key, url=url).json()["error"]["code"] == "idempotency_in_flight"
    # The in-flight claim expires after the deadline; PostgreSQL still knows the key is in use.
    redis.Redis.from_url(money.redis_url).delete(redis_key("payment", MERCHANT, key))
    assert money.pay(user, 600, key=key, url=url).json()["error"]["code"] == "idempotency_in_flight"

    money.reconcile()
    assert stored_state(money, payment["payment_id"]) == "failed"
    assert money.balance(user) == 10_000
    # Failed on our side (no money moved): a retry with the key is a new attempt, not 503 forever.
    retried = money.pay(user, 600, key=key)
    assert retried.status_code == 201, retried.text
    assert retried.json()["payment_id"] != payment["payment_id"]
    assert money.pay(user, 600, key=key, url=url).content == retried.content
    assert money.balance(user) == 10_000 - 600
