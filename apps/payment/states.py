"""The payment and refund state machines: every allowed transition, in one place.

Each step of the orchestration persists its state before the next outbound call, so a crash
between steps leaves a record whose state says exactly what is known:

    created        inserted; nothing asked yet (no money moved)
    risk_approved  risk approved; the debit may or may not have reached the ledger
    debited        the ledger confirmed the debit; the channel charge may or may not have happened
    charged        the channel approved the charge; the final bookkeeping is pending. An approved
                   charge is booked in one statement with its outbox event (debited ->
                   succeeded), so no step stops here; the state stays valid, and the reconciler
                   settles a row found in it
    compensating   the charge failed or was declined, or the debit's answer was lost: whatever
                   was debited must be credited back (the ledger voids a payment it never debited)
    succeeded      final: money captured
    failed         final: no money moved, or the debit was credited back

The reconciler resolves every non-final state (see reconcile.py). Transitions are applied as
guarded UPDATEs (`... WHERE state = <from>`), so two actors (a slow request and the reconciler)
can never both move the same payment.
"""

from __future__ import annotations

from enum import StrEnum


class PaymentState(StrEnum):
    CREATED = "created"
    RISK_APPROVED = "risk_approved"
    DEBITED = "debited"
    CHARGED = "charged"
    COMPENSATING = "compensating"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class RefundState(StrEnum):
    PENDING = "pending"  # reserved against the payment; the channel refund may or may not have happened
    APPROVED = "approved"  # the channel refunded; the ledger credit is pending
    SUCCEEDED = "succeeded"
    FAILED = "failed"


P = PaymentState
PAYMENT_TRANSITIONS: dict[PaymentState, frozenset[PaymentState]] = {
    P.CREATED: frozenset({P.RISK_APPROVED, P.FAILED}),
    P.RISK_APPROVED: frozenset({P.DEBITED, P.COMPENSATING, P.FAILED}),
    P.DEBITED: frozenset({P.SUCCEEDED, P.CHARGED, P.COMPENSATING}),
    P.CHARGED: frozenset({P.SUCCEEDED}),
    P.COMPENSATING: frozenset({P.FAILED}),
    P.SUCCEEDED: frozenset(),
    P.FAILED: frozenset(),
}

R = RefundState
REFUND_TRANSITIONS: dict[RefundState, frozenset[RefundState]] = {
    R.PENDING: frozenset({R.APPROVED, R.FAILED}),
    R.APPROVED: frozenset({R.SUCCEEDED}),
    R.SUCCEEDED: frozenset(),
    R.FAILED: frozenset(),
}

FINAL_PAYMENT_STATES = frozenset(s for s, nxt in PAYMENT_TRANSITIONS.items() if not nxt)
FINAL_REFUND_STATES = frozenset(s for s, nxt in REFUND_TRANSITIONS.items() if not nxt)


class IllegalTransition(RuntimeError):
    """A programming error: the code asked for a transition the state machine does not allow."""


def check_payment_transition(current: PaymentState, target: PaymentState) -> None:
    if target not in PAYMENT_TRANSITIONS[current]:
        raise IllegalTransition(f"payment cannot go from {current} to {target}")


def check_refund_transition(current: RefundState, target: RefundState) -> None:
    if target not in REFUND_TRANSITIONS[current]:
        raise IllegalTransition(f"refund cannot go from {current} to {target}")


# Why a payment failed, when the verdict was the payment's own (402, final for its key): risk
# rejected it, the user cannot pay, or the provider declined. Every other failure happened on our
# side (a dependency down or out of time) with no money moved, and its key may be retried.
DECLINE_REASONS = frozenset({"risk_rejected", "insufficient_funds", "account_not_found", "channel_declined"})


def retryable(state: PaymentState, failure_reason: str | None) -> bool:
    """Whether a retry with the payment's Idempotency-Key makes a new attempt: it failed on our side."""
    return state == P.FAILED and failure_reason not in DECLINE_REASONS


def public_status(state: PaymentState) -> str:
    """What callers see: intermediate states are internal, so they read as `pending`."""
    if state in FINAL_PAYMENT_STATES:
        return state.value
    return "pending"


def money_moved(state: PaymentState) -> bool:
    """Whether the user's balance may currently be short by this payment's amount."""
    return state in (P.RISK_APPROVED, P.DEBITED, P.CHARGED, P.COMPENSATING, P.SUCCEEDED)
