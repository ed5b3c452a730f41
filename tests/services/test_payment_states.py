"""Unit tests of the payment and refund state machines and of the answers derived from states."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from apps.payment.models import Payment
from apps.payment.orchestrator import Outcome, response_for
from apps.payment.states import (
    FINAL_PAYMENT_STATES,
    FINAL_REFUND_STATES,
    PAYMENT_TRANSITIONS,
    IllegalTransition,
    PaymentState,
    RefundState,
    check_payment_transition,
    check_refund_transition,
    public_status,
)

P = PaymentState


def test_final_states_are_exactly_succeeded_and_failed() -> None:
    assert {P.SUCCEEDED, P.FAILED} == FINAL_PAYMENT_STATES
    assert {RefundState.SUCCEEDED, RefundState.FAILED} == FINAL_REFUND_STATES


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (P.CREATED, P.RISK_APPROVED),
        (P.CREATED, P.FAILED),
        (P.RISK_APPROVED, P.DEBITED),
        (P.RISK_APPROVED, P.FAILED),
        (P.RISK_APPROVED, P.COMPENSATING),
        (P.DEBITED, P.SUCCEEDED),  # an approved charge is booked at once
        (P.DEBITED, P.CHARGED),
        (P.DEBITED, P.COMPENSATING),
        (P.CHARGED, P.SUCCEEDED),
        (P.COMPENSATING, P.FAILED),
    ],
)
def test_allowed_payment_transitions(current: PaymentState, target: PaymentState) -> None:
    check_payment_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (P.CREATED, P.SUCCEEDED),  # never succeed without a debit and a charge
        (P.CREATED, P.DEBITED),  # never debit without the risk check
        (P.DEBITED, P.FAILED),  # a debited payment fails only after compensation
        (P.CHARGED, P.COMPENSATING),  # captured money is returned by a refund, not a compensation
        (P.SUCCEEDED, P.FAILED),
        (P.FAILED, P.SUCCEEDED),
        (P.FAILED, P.COMPENSATING),
    ],
)
def test_forbidden_payment_transitions(current: PaymentState, target: PaymentState) -> None:
    with pytest.raises(IllegalTransition, match=f"from {current} to {target}"):
        check_payment_transition(current, target)


def test_every_state_reaches_a_final_state() -> None:
    for start in PaymentState:
        seen, frontier = {start}, [start]
        while frontier:
            for nxt in PAYMENT_TRANSITIONS[frontier.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        assert seen & FINAL_PAYMENT_STATES, f"{start} cannot reach a final state"


def test_refund_transitions() -> None:
    check_refund_transition(RefundState.PENDING, RefundState.APPROVED)
    check_refund_transition(RefundState.APPROVED, RefundState.SUCCEEDED)
    with pytest.raises(IllegalTransition):
        check_refund_transition(RefundState.APPROVED, RefundState.FAILED)  # the channel already paid out
    with pytest.raises(IllegalTransition):
        check_refund_transition(RefundState.SUCCEEDED, RefundState.PENDING)


def test_intermediate_states_read_as_pending() -> None:
    assert {public_status(s) for s in PaymentState} == {"pending", "succeeded", "failed"}
    assert public_status(P.COMPENSATING) == "pending"


def _payment(state: PaymentState, reason: str | None = None) -> Payment:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return Payment(
        payment_id="6f1c1f5e-0000-4000-8000-000000000001",
        merchant_id="m",
        idempotency_key="k",
        request_fingerprint="f",
        user_id="u",
        amount=1234,
        currency="EUR",
        payment_method="card",
        channel="card",
        description=None,
        state=state,
        failure_reason=reason,
        provider_ref=None,
        refunded_amount=0,
        refund_reserved_amount=0,
        created_at=now,
        updated_at=now,
    )


@pytest.mark.parametrize(
    ("state", "reason", "stalled", "status", "code"),
    [
        (P.SUCCEEDED, None, None, 201, None),
        (P.FAILED, "risk_rejected", None, 402, None),
        (P.FAILED, "insufficient_funds", None, 402, None),
        (P.FAILED, "channel_declined", None, 402, None),
        (P.FAILED, "channel_error", None, 503, "dependency_unavailable"),
        (P.FAILED, "dependency_unavailable", None, 503, "dependency_unavailable"),
        (P.FAILED, "channel_timeout", None, 504, "deadline_exceeded"),
        (P.FAILED, "deadline_exceeded", None, 504, "deadline_exceeded"),
        (P.DEBITED, None, "timeout", 504, "deadline_exceeded"),
        (P.COMPENSATING, None, "unavailable", 503, "dependency_unavailable"),
    ],
)
def test_answers_follow_the_state(
    state: PaymentState, reason: str | None, stalled: str | None, status: int, code: str | None
) -> None:
    got_status, body = response_for(Outcome(_payment(state, reason), stalled))
    assert got_status == status
    doc = json.loads(body)
    if code is None:
        assert doc["status"] == state.value and doc["failure_reason"] == reason and doc["amount"] == 1234
    else:
        assert doc["error"]["code"] == code and doc["error"]["field"] is None
        assert doc["error"]["payment"]["status"] == public_status(state)


def test_the_same_final_payment_always_gives_the_same_bytes() -> None:
    payment = _payment(P.SUCCEEDED)
    assert response_for(Outcome(payment)) == response_for(Outcome(replace(payment)))
    assert response_for(Outcome(payment))[1].startswith(b'{"payment_id":"6f1c1f5e')
