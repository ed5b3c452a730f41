"""The payment store on a real PostgreSQL: a final transition and its outbox event are one write.

A final transition sends its outbox event with the guarded UPDATE, in one statement: the event
must describe the row as the UPDATE left it, and must not be written when the guard finds the
payment already moved.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from apps.payment import outbox, store
from apps.payment.models import Payment, PaymentRequest
from apps.payment.states import PaymentState

P = PaymentState


@pytest.fixture
def payments(ledger_dsn: str, app_env: Callable[..., None]) -> Iterator[str]:
    app_env("payment", DATABASE_URL=ledger_dsn)
    yield ledger_dsn


def _new_payment() -> Payment:
    request = PaymentRequest(user_id="u-store", amount=1_234, currency="EUR", payment_method="card")
    payment, created = store.insert_payment("m-store", uuid.uuid4().hex, "fingerprint", request)
    assert created
    return payment


def _events(dsn: str, payment_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT event_type, key, topic, payload FROM payment.outbox WHERE key = %s", (payment_id,)
        ).fetchall()
    return [{"type": t, "key": k, "topic": topic, "payload": p} for t, k, topic, p in rows]


def test_a_final_transition_writes_the_event_of_the_row_it_leaves(payments: str) -> None:
    created = _new_payment()
    approved = store.transition(created, P.RISK_APPROVED, risk_score=10)
    assert approved is not None and approved.state == P.RISK_APPROVED
    assert _events(payments, created.payment_id) == []  # not final: no event

    failed = store.transition(approved, P.FAILED, failure_reason="insufficient_funds")
    assert failed is not None
    assert (failed.state, failed.failure_reason) == (P.FAILED, "insufficient_funds")
    [event] = _events(payments, created.payment_id)
    assert (event["type"], event["topic"], event["key"]) == (
        outbox.PAYMENT_FAILED,
        outbox.TOPIC,
        created.payment_id,
    )
    payload = event["payload"]
    stored = {name: getattr(failed, name) for name in ("payment_id", "merchant_id", "user_id", "amount")}
    assert {name: payload[name] for name in stored} == stored
    assert (payload["status"], payload["failure_reason"], payload["refunded_amount"]) == (
        failed.status,
        "insufficient_funds",
        0,
    )
    assert (payload["currency"], payload["channel"]) == (failed.currency, failed.channel)


def test_a_transition_that_finds_the_payment_moved_writes_no_event(payments: str) -> None:
    created = _new_payment()
    assert store.transition(created, P.FAILED, failure_reason="deadline_exceeded") is not None
    # `created` is stale now: its guard (state = created) no longer holds.
    assert store.transition(created, P.FAILED, failure_reason="risk_rejected") is None
    [event] = _events(payments, created.payment_id)
    assert event["payload"]["failure_reason"] == "deadline_exceeded"


def test_a_success_keeps_the_reason_it_had_and_says_succeeded(payments: str) -> None:
    created = _new_payment()
    approved = store.transition(created, P.RISK_APPROVED, risk_score=1)
    assert approved is not None
    debited = store.transition(approved, P.DEBITED)
    assert debited is not None
    succeeded = store.transition(debited, P.SUCCEEDED, provider_ref="prov-1")
    assert succeeded is not None and succeeded.provider_ref == "prov-1"
    [event] = _events(payments, created.payment_id)
    assert (event["type"], event["payload"]["status"], event["payload"]["failure_reason"]) == (
        outbox.PAYMENT_SUCCEEDED,
        "succeeded",
        None,
    )
