"""Events of the transactional outbox (payment.outbox), written in the same transaction as the change.

One topic for the whole payment family, keyed by payment_id: a payment's events (succeeded, then
refunded) land in one partition and stay in order. The relay publishes `payload` as the record
value and `headers` as the record headers; the headers carry the W3C trace context of the span
that made the change, so the consumer's spans join the payment's trace.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
from opentelemetry import propagate
from psycopg.types.json import Jsonb

from apps.payment.models import Payment, Refund

TOPIC = "payments"
PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
PAYMENT_REFUNDED = "payment.refunded"


def trace_headers() -> dict[str, str]:
    """traceparent (and tracestate when set) of the current span; empty outside a recorded trace."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {k: v for k, v in carrier.items() if k in ("traceparent", "tracestate")}


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def payment_event(event_type: str, payment: Payment, refund: Refund | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "payment_id": payment.payment_id,
        "merchant_id": payment.merchant_id,
        "user_id": payment.user_id,
        "amount": payment.amount,
        "currency": payment.currency,
        "channel": payment.channel,
        "status": payment.status,
        "failure_reason": payment.failure_reason,
        "refunded_amount": payment.refunded_amount,
        "created_at": _now(),
    }
    if refund is not None:
        payload["refund"] = {"refund_id": refund.refund_id, "amount": refund.amount}
    return payload


def write(conn: psycopg.Connection[Any], payload: dict[str, Any]) -> None:
    conn.execute(
        "INSERT INTO payment.outbox (event_id, topic, key, event_type, payload, headers)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (
            payload["event_id"],
            TOPIC,
            payload["payment_id"],
            payload["event_type"],
            Jsonb(payload),
            Jsonb(trace_headers()),
        ),
    )
