"""The payment service's business metrics (catalog entries) and span attributes.

Labels carry only bounded values (status, channel, currency, reason); ids and amounts go to spans
(ids) or the amount histogram (amounts), never to labels. Span attributes are set on the current
span through the OpenTelemetry API; without an SDK (tests, no agent) they are no-ops.

Log lines (one per decisive transition of a payment) carry the payment's id, status and reason
under the span attributes' names, never the request body (its description is free text).
"""

from __future__ import annotations

import logging

from opentelemetry import trace

from apps.common import metrics
from apps.payment.models import Payment
from apps.payment.states import PaymentState

CHANNELS = ("card", "wallet", "bank_transfer")
log = logging.getLogger(__name__)


def prime() -> None:
    """Create every metric at start so /metrics shows each family before the first payment."""
    metrics.counter("payments_total")
    metrics.counter("payment_failures_total")
    metrics.histogram("payment_duration_seconds")
    metrics.histogram("payment_amount_minor_units")
    metrics.counter("refunds_total")
    metrics.counter("payment_idempotency_requests_total")
    metrics.counter("payment_idempotency_store_errors_total")
    metrics.counter("payment_compensations_total")


def annotate(payment: Payment) -> None:
    span = trace.get_current_span()
    span.set_attribute("payment.id", payment.payment_id)
    span.set_attribute("payment.channel", payment.channel)
    span.set_attribute("payment.currency", payment.currency)
    span.set_attribute("payment.status", payment.status)
    if payment.failure_reason:
        span.set_attribute("payment.failure_reason", payment.failure_reason)


def _fields(payment: Payment) -> dict[str, str]:
    fields = {
        "payment.id": payment.payment_id,
        "payment.status": payment.status,
        "payment.state": payment.state.value,
    }
    if payment.failure_reason:
        fields["payment.failure_reason"] = payment.failure_reason
    return fields


def transition(payment: Payment) -> None:
    """One line when a payment becomes final, or starts giving a debit back (compensating)."""
    if payment.state == PaymentState.SUCCEEDED:
        log.info("payment succeeded", extra=_fields(payment))
    elif payment.state == PaymentState.FAILED:
        log.info("payment failed", extra=_fields(payment))
    elif payment.state == PaymentState.COMPENSATING:
        log.info("payment compensating: crediting the debit back", extra=_fields(payment))


def stalled(payment: Payment, kind: str) -> None:
    """A payment the request could not finish: the reconciler takes it from its state."""
    log.warning(
        "payment left pending for the reconciler", extra={**_fields(payment), "payment.stalled": kind}
    )


def payment_final(payment: Payment, duration_s: float | None) -> None:
    """Count a payment that reached a final state (once: by whoever made the final transition)."""
    status = payment.state.value
    metrics.counter("payments_total").labels(status, payment.channel, payment.currency).inc()
    metrics.histogram("payment_amount_minor_units").labels(payment.currency).observe(payment.amount)
    if payment.state == PaymentState.FAILED:
        reason = payment.failure_reason or "unknown"
        metrics.counter("payment_failures_total").labels(reason, payment.channel).inc()
    if duration_s is not None:
        metrics.histogram("payment_duration_seconds").labels(status, payment.channel).observe(duration_s)


def compensation(reason: str) -> None:
    metrics.counter("payment_compensations_total").labels(reason).inc()


def refund(status: str, currency: str) -> None:
    metrics.counter("refunds_total").labels(status, currency).inc()
