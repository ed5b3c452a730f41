"""Events of the transactional outbox (payment.outbox), written atomically with the change they report.

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
from psycopg import sql
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


_INSERT = sql.SQL("INSERT INTO payment.outbox (event_id, topic, key, event_type, payload, headers)")


def event_parameters(payload: dict[str, Any]) -> tuple[Any, ...]:
    """The event's column values, in _INSERT's order: write()'s, and the last parameters of a
    with_event() statement."""
    return (
        payload["event_id"],
        TOPIC,
        payload["payment_id"],
        payload["event_type"],
        Jsonb(payload),
        Jsonb(trace_headers()),
    )


def write(conn: psycopg.Connection[Any], payload: dict[str, Any]) -> None:
    """Insert the event; the caller's transaction makes it atomic with the change it reports."""
    conn.execute(sql.SQL("{} VALUES (%s, %s, %s, %s, %s, %s)").format(_INSERT), event_parameters(payload))


def with_event(change: sql.Composable) -> sql.Composed:
    """`change`, an UPDATE ... RETURNING * of one row, as one statement that also inserts an event
    when the UPDATE changed a row (the event's values are the statement's last parameters, see
    event_parameters). One statement is atomic on its own: no transaction, one round trip."""
    # Typed: in a SELECT list a parameter does not take the column's type as in VALUES.
    return sql.SQL(
        "WITH changed AS ({change}), event AS ({insert} SELECT %s::uuid, %s::text, %s::text,"
        " %s::text, %s::jsonb, %s::jsonb FROM changed) SELECT * FROM changed"
    ).format(change=change, insert=_INSERT)
