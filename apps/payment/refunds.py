"""Refunds: the payment path in reverse (channel refund first, then the ledger credit).

The amount is reserved on the payment under a row lock before the channel is asked, so
concurrent refunds can never add up to more than was captured (a CHECK constraint enforces the
same). A declined or failed channel refund releases the reservation; a lost answer keeps it and
leaves the refund pending for the reconciler, which repeats the idempotent refund call.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.common.deadline import Deadline
from apps.common.errors import DependencyError
from apps.payment import clients, store, telemetry
from apps.payment.models import Payment, Refund
from apps.payment.orchestrator import encode
from apps.payment.states import RefundState
from apps.payment.steps import Budgets, capped, credit_refund

R = RefundState


@dataclass(frozen=True)
class RefundOutcome:
    refund: Refund
    stalled: str | None = None


def send_to_channel(refund: Refund, payment: Payment, deadline: Deadline, budgets: Budgets) -> Refund:
    """pending -> approved (then credited) or failed; raises DependencyError when the answer is lost."""
    response = clients.get().channel.request(
        "POST",
        "/v1/refunds",
        json={
            "refund_id": refund.refund_id,
            "payment_id": payment.payment_id,
            "amount": refund.amount,
            "currency": refund.currency,
            "channel": payment.channel,
        },
        idempotent=True,
        deadline=capped(deadline, budgets.channel_s, budgets.compensation_reserve_s),
    )
    body = response.json() if response.status_code == 200 else {}
    if response.status_code == 200 and body.get("status") == "approved":
        moved = store.transition_refund(refund, R.APPROVED)
    elif response.status_code == 200 and body.get("status") == "declined":
        moved = store.transition_refund(refund, R.FAILED, "channel_declined")
        if moved is not None:
            telemetry.refund("failed", refund.currency)
    else:
        raise RuntimeError(f"channel answered {response.status_code} to a refund")
    return moved or _current(refund)


def finish(refund: Refund, payment: Payment, deadline: Deadline, budgets: Budgets) -> RefundOutcome:
    """Drive a refund from its current state as far as possible."""
    r = refund
    try:
        if r.state == R.PENDING:
            try:
                r = send_to_channel(r, payment, deadline, budgets)
            except DependencyError as exc:
                if exc.kind == "timeout":
                    return RefundOutcome(r, "timeout")
                # An injected error or an open breaker: the provider recorded nothing.
                moved = store.transition_refund(r, R.FAILED, "channel_error")
                if moved is not None:
                    telemetry.refund("failed", r.currency)
                return RefundOutcome(moved or _current(r), None if moved else "unavailable")
        if r.state == R.APPROVED:
            r = credit_refund(r, payment, deadline, budgets) or _current(r)
    except DependencyError as exc:
        return RefundOutcome(r, "timeout" if exc.kind == "timeout" else "unavailable")
    return RefundOutcome(r)


def _current(refund: Refund) -> Refund:
    current = store.get_refund(refund.refund_id)
    assert current is not None
    return current


def response_for(outcome: RefundOutcome) -> tuple[int, bytes]:
    r = outcome.refund
    if r.state == R.SUCCEEDED:
        return 201, encode(r.public())
    if r.state == R.FAILED and r.failure_reason == "channel_declined":
        return 402, encode(r.public())
    if r.state == R.FAILED:
        status, code = 503, "dependency_unavailable"
        message = "the channel is unavailable; the refund failed and may be retried"
    elif outcome.stalled is None:
        # A replay of a refund still in progress (same Idempotency-Key).
        return 202, encode(r.public())
    elif outcome.stalled == "unavailable":
        status, code = 503, "dependency_unavailable"
        message = "a dependency is unavailable; the refund stays pending until the reconciler finishes it"
    else:
        status, code = 504, "deadline_exceeded"
        message = "the refund could not finish within its deadline; the reconciler finishes it"
    return status, encode({"error": {"code": code, "message": message, "field": None, "refund": r.public()}})
