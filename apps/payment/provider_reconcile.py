"""Provider-side reconciliation: the provider's approved charges against our payment rows.

    python -m apps.payment.provider_reconcile              one pass (grace: PROVIDER_RECONCILE_GRACE_S)
    python -m apps.payment.provider_reconcile --grace 60   charges older than 60 s
    python -m apps.payment.provider_reconcile --loop 300   a pass every 300 s until interrupted

The payment service also runs a pass in the background of each worker every
PROVIDER_RECONCILE_INTERVAL_S (300 s; 0 turns it off), like its payment reconciler.

The payment reconciler (reconcile.py) starts from our rows; this one starts from the provider's
side, as an acquirer's settlement reconciliation does: every approved charge the provider will
settle must belong to a payment that succeeded. Charges recorded before the grace period (default
PROVIDER_RECONCILE_GRACE_S = 300 s, far beyond a payment's budget and the payment reconciler's
age) are matched by payment id:

    payment succeeded, same amount and currency  matched
    no payment row                                void: the row was lost (issue 16: a PostgreSQL
                                                  crash lost an answered payment, its debit with it,
                                                  but the provider had approved the charge)
    payment failed                                void: the user's debit was credited back (or never
                                                  made), so the charge must not settle
    payment not final                             left to the payment reconciler this pass
    succeeded with another amount or currency     reported (logged as an error), never changed
                                                  automatically: a person looks

Void rather than book: without a payment row there is no debit on the ledger and no answer the
merchant kept, so booking would invent a payment; voiding returns the money to where the ledger
says it is. Voids are idempotent at the provider, so passes may overlap or repeat safely.
Needs DATABASE_URL, CHANNEL_URL and INTERNAL_AUTH_SECRET (it calls the channel as the payment service).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from apps.common import background, db
from apps.common.config import env
from apps.common.deadline import Deadline
from apps.common.http import ServiceClient
from apps.payment.states import PaymentState

log = logging.getLogger(__name__)
PAGE = 500


@dataclass
class ProviderSummary:
    examined: int = 0
    matched: int = 0
    voided: list[str] = field(default_factory=list)  # payment ids whose charge this pass voided
    open: int = 0  # their payment is not final yet
    mismatched: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"examined {self.examined} provider charges: matched {self.matched}, voided {len(self.voided)},"
            f" left open {self.open}, mismatched {len(self.mismatched)}"
        )


def default_grace_s() -> float:
    return env("PROVIDER_RECONCILE_GRACE_S", 300.0, float)


def _channel() -> ServiceClient:
    return ServiceClient("channel", env("CHANNEL_URL"), max_attempts=3)


def _payments(payment_ids: list[str]) -> dict[str, dict[str, Any]]:
    with db.statement("provider_reconcile_payments") as conn:
        rows = conn.execute(
            "SELECT payment_id::text AS payment_id, state, amount, currency FROM payment.payments"
            " WHERE payment_id = ANY(%s::uuid[])",
            (payment_ids,),
        ).fetchall()
    return {row["payment_id"]: dict(row) for row in rows}


def _void(channel: ServiceClient, payment_id: str, reason: str) -> bool:
    answer = channel.request(
        "POST",
        f"/v1/charges/{payment_id}/void",
        json={"reason": reason},
        idempotent=True,
        deadline=Deadline.start(5_000),
    )
    if answer.status_code == 200:
        return True
    log.error("could not void a charge", extra={"payment_id": payment_id, "status": answer.status_code})
    return False


def reconcile_provider(grace_s: float | None = None, now: datetime | None = None) -> ProviderSummary:
    """One pass over the provider's approved charges older than the grace period."""
    grace = default_grace_s() if grace_s is None else grace_s
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=grace)
    channel = _channel()
    summary = ProviderSummary()
    after: str | None = None
    while True:
        params = {"created_before": cutoff.isoformat(), "limit": str(PAGE)}
        if after:
            params["after"] = after
        answer = channel.request("GET", "/v1/charges", params=params, deadline=Deadline.start(10_000))
        if answer.status_code != 200:
            raise RuntimeError(f"channel answered {answer.status_code} to the list of charges")
        page = answer.json()
        charges: list[dict[str, Any]] = page["charges"]
        known = _payments([c["payment_id"] for c in charges])
        for charge in charges:
            summary.examined += 1
            payment_id = charge["payment_id"]
            payment = known.get(payment_id)
            if payment is None:
                if _void(channel, payment_id, "no_payment_row"):
                    summary.voided.append(payment_id)
                    log.warning(
                        "voided a provider charge without a payment", extra={"payment_id": payment_id}
                    )
            elif payment["state"] == PaymentState.FAILED:
                if _void(channel, payment_id, "payment_failed"):
                    summary.voided.append(payment_id)
                    log.warning(
                        "voided the provider charge of a failed payment", extra={"payment_id": payment_id}
                    )
            elif payment["state"] != PaymentState.SUCCEEDED:
                summary.open += 1
            elif (payment["amount"], payment["currency"]) != (charge["amount"], charge["currency"]):
                summary.mismatched.append(payment_id)
                log.error("provider charge differs from its payment", extra={"payment_id": payment_id})
            else:
                summary.matched += 1
        after = page.get("next")
        if not after:
            return summary


class ProviderReconciler(background.Worker):
    """The periodic pass, in a background thread of each payment worker (voids are idempotent,
    so workers passing at once are safe)."""

    def __init__(self, interval_s: float):
        super().__init__("provider-reconciler")
        self.interval_s = interval_s

    def step(self) -> None:
        if self.stopping.wait(self.interval_s):
            return
        try:
            summary = reconcile_provider()
        except Exception:  # a failed pass (the channel or the database away) waits for the next one
            log.exception("provider reconciliation pass failed")
            return
        if summary.voided or summary.mismatched:
            log.warning("provider reconciliation pass", extra={"summary": summary.line()})


@click.command()
@click.option("--grace", type=float, default=None, help="Seconds a charge must be old (default: 300).")
@click.option(
    "--loop", "loop_s", type=float, default=0.0, help="Repeat every LOOP seconds until interrupted."
)
def main(grace: float | None, loop_s: float) -> None:
    """Void provider charges that have no payment row, or whose payment failed."""
    while True:
        click.echo(reconcile_provider(grace).line())
        if loop_s <= 0:
            return
        time.sleep(loop_s)


if __name__ == "__main__":
    main()
