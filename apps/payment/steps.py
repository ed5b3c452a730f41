"""The outbound steps of a payment, each ending in a guarded state transition.

Shared by the request path (orchestrator.py) and the reconciler: both drive a payment forward
from whatever state it is in. Each step is idempotent on the callee's side, so repeating one
after a crash or a timeout never moves money twice. A step that cannot tell what happened (no
answer in time) leaves the state unchanged for the reconciler.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from apps.common.config import env
from apps.common.deadline import Deadline
from apps.common.errors import DependencyError
from apps.common.http import ServiceResponse
from apps.payment import clients, store, telemetry
from apps.payment.models import Payment, Refund
from apps.payment.states import FINAL_PAYMENT_STATES, PaymentState, RefundState

P = PaymentState

# Failure reasons and what they answer: the caller's problem (402) or ours (503/504).
TIMEOUT_REASONS = frozenset({"channel_timeout", "deadline_exceeded"})


class Superseded(Exception):
    """Somebody else moved the payment first; `current` is what it is now."""

    def __init__(self, current: Payment):
        super().__init__(current.state.value)
        self.current = current


class Stalled(Exception):
    """A step could not finish (dependency down or out of time); the state says what is known."""

    def __init__(self, payment: Payment, kind: str):
        super().__init__(kind)
        self.payment = payment
        self.kind = kind  # "timeout" or "unavailable"


@dataclass(frozen=True)
class Budgets:
    """Per-step caps (the seed documents' tiered timeouts) and the time kept for compensation."""

    risk_s: float
    account_s: float
    channel_s: float
    compensation_reserve_s: float

    @classmethod
    def from_env(cls) -> Budgets:
        return cls(
            risk_s=env("PAYMENT_RISK_TIMEOUT_MS", 1_000, int) / 1000,
            account_s=env("PAYMENT_ACCOUNT_TIMEOUT_MS", 2_000, int) / 1000,
            channel_s=env("PAYMENT_CHANNEL_TIMEOUT_MS", 3_000, int) / 1000,
            compensation_reserve_s=env("PAYMENT_COMPENSATION_RESERVE_MS", 1_000, int) / 1000,
        )


def capped(deadline: Deadline, cap_s: float, reserve_s: float = 0.0) -> Deadline:
    """A step's deadline: at most `cap_s` from now, and `reserve_s` before the request's own."""
    return Deadline(min(time.monotonic() + cap_s, deadline.expires_at - reserve_s))


def _stall_kind(exc: DependencyError) -> str:
    return "timeout" if exc.kind == "timeout" else "unavailable"


def move(payment: Payment, target: PaymentState, started: float | None = None, **fields: object) -> Payment:
    moved = store.transition(payment, target, **fields)
    if moved is None:
        current = store.get_payment(payment.payment_id)
        assert current is not None
        raise Superseded(current)
    if target in FINAL_PAYMENT_STATES:
        if started is not None:
            duration = time.perf_counter() - started
        else:  # the reconciler: from the request's start as recorded
            duration = max(0.0, moved.updated_at.timestamp() - moved.created_at.timestamp())
        telemetry.payment_final(moved, duration)
    telemetry.transition(moved)
    return moved


def evaluate_risk(p: Payment, deadline: Deadline, budgets: Budgets, started: float | None) -> Payment:
    """created -> risk_approved, or failed (rejected, or risk unreachable: nothing has moved)."""
    try:
        response = clients.get().risk.request(
            "POST",
            "/v1/risk/evaluations",
            json={
                "payment_id": p.payment_id,
                "user_id": p.user_id,
                "amount": p.amount,
                "currency": p.currency,
            },
            idempotent=True,
            deadline=capped(deadline, budgets.risk_s),
        )
    except DependencyError as exc:
        reason = "deadline_exceeded" if exc.kind == "timeout" else "dependency_unavailable"
        return move(p, P.FAILED, started, failure_reason=reason)
    if response.status_code != 200:
        return move(p, P.FAILED, started, failure_reason="dependency_unavailable")
    verdict = response.json()
    score = verdict.get("score")
    if verdict.get("decision") != "approve":
        return move(p, P.FAILED, started, failure_reason="risk_rejected", risk_score=score)
    return move(p, P.RISK_APPROVED, started, risk_score=score)


def debit(p: Payment, deadline: Deadline, budgets: Budgets, started: float | None) -> Payment:
    """risk_approved -> debited, or failed (insufficient funds, no account).

    Without an answer the debit may or may not have happened: the payment goes to compensating.
    The ledger's compensation credits back a debit that happened, and voids the payment id of one
    that did not, so a debit arriving late is refused and no money stays taken either way.
    """
    try:
        response = clients.get().account.request(
            "POST",
            "/v1/ledger/debits",
            json={
                "payment_id": p.payment_id,
                "user_id": p.user_id,
                "currency": p.currency,
                "amount": p.amount,
            },
            idempotent=True,
            # Time is kept back so that a debit without an answer can still be compensated (or voided).
            deadline=capped(deadline, budgets.account_s, budgets.compensation_reserve_s),
        )
    except DependencyError as exc:
        reason = "deadline_exceeded" if exc.kind == "timeout" else "dependency_unavailable"
        return move(p, P.COMPENSATING, started, failure_reason=reason)
    if response.status_code in (200, 201):
        return move(p, P.DEBITED, started)
    code = _error_code(response)
    if response.status_code == 422 and code == "insufficient_funds":
        return move(p, P.FAILED, started, failure_reason="insufficient_funds")
    if response.status_code == 404:
        return move(p, P.FAILED, started, failure_reason="account_not_found")
    if response.status_code == 409 and code == "payment_voided":
        # Compensated (voided) by an earlier attempt that gave up on this debit.
        return move(p, P.FAILED, started, failure_reason="deadline_exceeded")
    raise RuntimeError(f"account answered {response.status_code} {code} to a debit")


def charge(p: Payment, deadline: Deadline, budgets: Budgets, started: float | None) -> Payment:
    """debited -> succeeded, or compensating with the reason the channel did not charge.

    The channel gets the request's deadline minus the compensation reserve, so a channel that
    never answers still leaves time to find out and to credit the debit back.

    A charge whose answer did not come in time may still be running at the provider: asking
    GET /v1/charges/{id} right away could answer 404 for a charge approved a moment later. So the
    charge is sent once more (idempotent per payment id): the provider queues it behind the first
    attempt and answers that attempt's outcome, or processes it afresh when the first recorded
    nothing. When that answer is lost too, the payment stays `debited` for the reconciler, which
    asks GET long after every attempt has ended.
    """
    try:
        response = _send_charge(p, capped(deadline, budgets.channel_s, budgets.compensation_reserve_s))
    except DependencyError as exc:
        if exc.kind != "timeout":
            # Injected errors and an open breaker: the provider recorded nothing.
            return move(p, P.COMPENSATING, started, failure_reason="channel_error")
        try:
            response = _send_charge(
                p, capped(deadline, budgets.channel_s, budgets.compensation_reserve_s / 2)
            )
        except DependencyError as again:
            if again.kind == "unavailable" and again.status is not None:
                # The provider answered an error: the first attempt has ended unrecorded, so has this one.
                return move(p, P.COMPENSATING, started, failure_reason="channel_timeout")
            raise Stalled(p, "timeout") from again
    return _apply_charge_answer(p, response.status_code, response, started)


def _send_charge(p: Payment, deadline: Deadline) -> ServiceResponse:
    return clients.get().channel.request(
        "POST",
        "/v1/charges",
        json={"payment_id": p.payment_id, "amount": p.amount, "currency": p.currency, "channel": p.channel},
        idempotent=True,
        deadline=deadline,
    )


def charge_outcome(p: Payment, deadline: Deadline, started: float | None, unknown_reason: str) -> Payment:
    """Ask the channel what became of a charge whose answer was lost (GET /v1/charges/{id})."""
    try:
        response = clients.get().channel.request(
            "GET", f"/v1/charges/{p.payment_id}", idempotent=True, deadline=deadline
        )
    except DependencyError as exc:
        raise Stalled(p, _stall_kind(exc)) from exc
    if response.status_code == 404:  # never charged: the debit goes back
        return move(p, P.COMPENSATING, started, failure_reason=unknown_reason)
    return _apply_charge_answer(p, response.status_code, response, started)


def _apply_charge_answer(
    p: Payment, status: int, response: ServiceResponse, started: float | None
) -> Payment:
    body = response.json() if status == 200 else {}
    if status == 200 and body.get("status") == "approved":
        # Captured: booked with its outbox event in one statement, straight from debited (not
        # charged, then succeeded: nothing can happen between the two that needs a state).
        return move(p, P.SUCCEEDED, started, provider_ref=body.get("provider_ref"))
    if status == 200 and body.get("status") == "declined":
        return move(p, P.COMPENSATING, started, failure_reason="channel_declined")
    raise RuntimeError(f"channel answered {status} to a charge")


def settle(p: Payment, started: float | None) -> Payment:
    """charged -> succeeded (with the outbox event), for a payment found in `charged`."""
    return move(p, P.SUCCEEDED, started)


def compensate(
    p: Payment, deadline: Deadline, budgets: Budgets, started: float | None, reason: str
) -> Payment:
    """compensating -> failed once the ledger has credited the debit back (idempotent per payment).

    `404 debit_not_found` is as final: the debit never happened, and the ledger has voided the
    payment id so that it never will.
    """
    try:
        response = clients.get().account.request(
            "POST",
            "/v1/ledger/credits",
            json={
                "reference_id": p.payment_id,
                "kind": "compensation",
                "user_id": p.user_id,
                "currency": p.currency,
                "amount": p.amount,
            },
            idempotent=True,
            deadline=capped(deadline, budgets.account_s),
        )
    except DependencyError as exc:
        raise Stalled(p, _stall_kind(exc)) from exc
    never_debited = response.status_code == 404 and _error_code(response) == "debit_not_found"
    if response.status_code not in (200, 201) and not never_debited:
        raise RuntimeError(f"account answered {response.status_code} to a compensation credit")
    moved = move(p, P.FAILED, started)
    if not never_debited:
        telemetry.compensation(reason)
    return moved


def credit_refund(refund: Refund, payment: Payment, deadline: Deadline, budgets: Budgets) -> Refund | None:
    """approved -> succeeded once the ledger has credited the refund (idempotent per refund id)."""
    response = clients.get().account.request(
        "POST",
        "/v1/ledger/credits",
        json={
            "reference_id": refund.refund_id,
            "kind": "refund",
            "user_id": payment.user_id,
            "currency": refund.currency,
            "amount": refund.amount,
        },
        idempotent=True,
        deadline=capped(deadline, budgets.account_s),
    )
    if response.status_code not in (200, 201):
        raise RuntimeError(f"account answered {response.status_code} to a refund credit")
    moved = store.transition_refund(refund, RefundState.SUCCEEDED)
    if moved is not None:
        telemetry.refund("succeeded", refund.currency)
    return moved


def _error_code(response: object) -> str | None:
    try:
        return response.json()["error"]["code"]  # type: ignore[attr-defined]
    except (ValueError, KeyError, TypeError):
        return None
