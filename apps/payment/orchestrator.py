"""One payment, from `created` to a final state: risk, debit, charge, and compensation on failure.

The request path drives the payment as far as its deadline allows. When a step cannot finish
(Stalled), the payment keeps the state that says what is known and the reconciler finishes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from apps.common.deadline import Deadline
from apps.payment import steps, telemetry
from apps.payment.models import Payment
from apps.payment.states import DECLINE_REASONS, PaymentState
from apps.payment.steps import TIMEOUT_REASONS, Budgets, Stalled, Superseded

P = PaymentState


@dataclass(frozen=True)
class Outcome:
    payment: Payment
    stalled: str | None = None  # "timeout" or "unavailable" when the payment is left for the reconciler


def process(payment: Payment, deadline: Deadline, started: float, budgets: Budgets | None = None) -> Outcome:
    budgets = budgets or Budgets.from_env()
    p = payment
    try:
        if p.state == P.CREATED:
            if deadline.expired():
                p = steps.move(p, P.FAILED, started, failure_reason="deadline_exceeded")
            else:
                p = steps.evaluate_risk(p, deadline, budgets, started)
        if p.state == P.RISK_APPROVED:
            if deadline.remaining() <= budgets.compensation_reserve_s:  # too late to send the debit
                p = steps.move(p, P.FAILED, started, failure_reason="deadline_exceeded")
            else:
                p = steps.debit(p, deadline, budgets, started)
        if p.state == P.DEBITED:
            if deadline.remaining() <= budgets.compensation_reserve_s:
                # Too late to charge: give the money back rather than leave the user short.
                p = steps.move(p, P.COMPENSATING, started, failure_reason="deadline_exceeded")
            else:
                p = steps.charge(p, deadline, budgets, started)
        if p.state == P.CHARGED:
            p = steps.settle(p, started)
        if p.state == P.COMPENSATING:
            p = steps.compensate(p, deadline, budgets, started, p.failure_reason or "unknown")
    except Stalled as stall:
        telemetry.annotate(stall.payment)
        telemetry.stalled(stall.payment, stall.kind)
        return Outcome(stall.payment, stall.kind)
    except Superseded as superseded:
        # The reconciler (or a duplicate) moved it; answer with what it is now.
        p = superseded.current
        telemetry.annotate(p)
        return Outcome(p, None if p.state in (P.SUCCEEDED, P.FAILED) else "timeout")
    telemetry.annotate(p)
    return Outcome(p)


def encode(document: dict[str, Any]) -> bytes:
    """The exact bytes of a response: compact and in a fixed key order, so replays are identical."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def response_for(outcome: Outcome) -> tuple[int, bytes]:
    """The status and body for a payment; a final payment always gets the same answer."""
    p = outcome.payment
    if p.state == P.SUCCEEDED:
        return 201, encode(p.public())
    if p.state == P.FAILED and p.failure_reason in DECLINE_REASONS:
        return 402, encode(p.public())
    # A failed payment answers by its reason; a pending one by what stopped it.
    failed = p.state == P.FAILED
    timeout = p.failure_reason in TIMEOUT_REASONS if failed else outcome.stalled != "unavailable"
    if timeout:
        status, code, message = 504, "deadline_exceeded", "the payment could not finish within its deadline"
    else:
        status, code, message = 503, "dependency_unavailable", "a dependency of the payment is unavailable"
    if p.state == P.FAILED:
        message += "; it failed and no money was taken (any debit was credited back)"
    else:
        message += "; it stays pending until the reconciler finishes it"
    return status, encode({"error": {"code": code, "message": message, "field": None, "payment": p.public()}})
