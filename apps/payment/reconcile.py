"""The reconciler: finishes or compensates payments and refunds that a crash or a timeout left open.

    python -m apps.payment.reconcile            one pass, prints a summary
    python -m apps.payment.reconcile --loop 5   a pass every 5 seconds until interrupted

Only records untouched for longer than PAYMENT_RECONCILE_AFTER_S (default: the payment budget plus
5 s) are considered, so a request still working on its payment is never raced. What each state
means and how it is resolved:

    created        no money moved                -> failed (deadline_exceeded)
    risk_approved  the debit may have happened   -> compensate (credits it back, or voids it)
    debited        the charge may have happened  -> GET /v1/charges/{id}: approved -> succeeded,
                                                    declined or never charged -> compensate
    charged        approved by the channel       -> succeeded
    compensating   credit the debit back         -> failed
    refund pending   repeat the idempotent channel refund; refund approved: credit the ledger

Every transition is a guarded UPDATE and every call idempotent, so passes may overlap safely.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import click

from apps.common import background
from apps.common.config import budget_ms, env
from apps.common.deadline import Deadline
from apps.common.errors import DependencyError
from apps.payment import refunds, steps, store
from apps.payment.models import Payment, Refund
from apps.payment.states import FINAL_PAYMENT_STATES, FINAL_REFUND_STATES, PaymentState
from apps.payment.steps import Budgets, Stalled, Superseded

P = PaymentState
log = logging.getLogger(__name__)


@dataclass
class Summary:
    examined: int = 0
    finished: int = 0  # reached a final state in this pass
    still_open: int = 0
    by_state: dict[str, int] = field(default_factory=dict)

    def count(self, final_state: str) -> None:
        self.by_state[final_state] = self.by_state.get(final_state, 0) + 1


def default_age_s() -> float:
    return env("PAYMENT_RECONCILE_AFTER_S", budget_ms("payment") / 1000 + 5.0, float)


def resolve_payment(p: Payment, budgets: Budgets) -> Payment:
    """Drive one open payment to a final state if its dependencies answer; returns where it got."""
    deadline = Deadline.start(budget_ms("payment"))
    try:
        if p.state == P.CREATED:
            p = steps.move(p, P.FAILED, failure_reason="deadline_exceeded")
        if p.state == P.RISK_APPROVED:
            # The debit may or may not have happened: the compensation credits it back or voids it.
            p = steps.move(p, P.COMPENSATING, failure_reason="deadline_exceeded")
        if p.state == P.DEBITED:
            p = steps.charge_outcome(p, deadline, None, unknown_reason="deadline_exceeded")
        if p.state == P.CHARGED:
            p = steps.settle(p, None)
        if p.state == P.COMPENSATING:
            p = steps.compensate(p, deadline, budgets, None, "reconciler")
    except Stalled as stall:
        return stall.payment
    except Superseded as superseded:
        return superseded.current
    return p


def resolve_refund(r: Refund, budgets: Budgets) -> Refund:
    payment = store.get_payment(r.payment_id)
    assert payment is not None
    deadline = Deadline.start(budget_ms("payment"))
    try:
        return refunds.finish(r, payment, deadline, budgets).refund
    except DependencyError:
        return r


def reconcile(older_than_s: float | None = None, limit: int = 500) -> Summary:
    """One pass over open payments and refunds; returns what it did."""
    age = default_age_s() if older_than_s is None else older_than_s
    budgets = Budgets.from_env()
    summary = Summary()
    for payment in store.open_payments(age, limit):
        summary.examined += 1
        try:
            result = resolve_payment(payment, budgets)
        except Exception:  # one broken record must not stop the pass
            log.exception("reconciling a payment failed", extra={"payment_id": payment.payment_id})
            summary.still_open += 1
            continue
        if result.state in FINAL_PAYMENT_STATES:
            summary.finished += 1
            summary.count(f"payment_{result.state.value}")
        else:
            summary.still_open += 1
    for refund in store.open_refunds(age, limit):
        summary.examined += 1
        try:
            done = resolve_refund(refund, budgets)
        except Exception:
            log.exception("reconciling a refund failed", extra={"refund_id": refund.refund_id})
            summary.still_open += 1
            continue
        if done.state in FINAL_REFUND_STATES:
            summary.finished += 1
            summary.count(f"refund_{done.state.value}")
        else:
            summary.still_open += 1
    return summary


class Reconciler(background.Worker):
    """The periodic task: a pass every `interval_s`, in a background thread of each worker."""

    def __init__(self, interval_s: float):
        super().__init__("payment-reconciler")
        self.interval_s = interval_s

    def step(self) -> None:
        if self.stopping.wait(self.interval_s):
            return
        try:
            summary = reconcile()
        except Exception:  # a failed pass is retried at the next interval, not after a backoff
            log.exception("reconciler pass failed")
            return
        if summary.examined:
            log.info("reconciler pass", extra={"examined": summary.examined, "finished": summary.finished})


@click.command()
@click.option(
    "--older-than",
    type=float,
    default=None,
    help="Seconds a record must be untouched (default: budget + 5 s).",
)
@click.option("--limit", type=int, default=500, show_default=True, help="Records per kind and pass.")
@click.option(
    "--loop", "loop_s", type=float, default=0.0, help="Repeat every LOOP seconds until interrupted."
)
def main(older_than: float | None, limit: int, loop_s: float) -> None:
    """Finish or compensate payments and refunds left open.

    Needs DATABASE_URL, ACCOUNT_URL, CHANNEL_URL and RISK_URL.
    """
    while True:
        summary = reconcile(older_than, limit)
        states = ", ".join(f"{k}={v}" for k, v in sorted(summary.by_state.items())) or "nothing to do"
        done = f"finished {summary.finished} ({states})"
        click.echo(f"examined {summary.examined}, {done}, still open {summary.still_open}")
        if loop_s <= 0:
            return
        time.sleep(loop_s)


if __name__ == "__main__":
    main()
