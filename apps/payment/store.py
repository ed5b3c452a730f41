"""PostgreSQL access for payments and refunds. Every state change is a guarded UPDATE.

A guarded UPDATE (`WHERE state = <expected>`) moves a record only from the state the caller saw;
when somebody else (the reconciler, a slow duplicate) moved it first, nothing changes and the
caller gets None and re-reads. Final changes write their outbox event in the same statement (a
refund's, in the same transaction).
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import replace
from typing import Any

from psycopg import sql

from apps.common import db
from apps.payment import outbox
from apps.payment.models import Payment, PaymentRequest, Refund
from apps.payment.states import (
    FINAL_PAYMENT_STATES,
    PaymentState,
    RefundState,
    check_payment_transition,
    check_refund_transition,
)

_PAYMENT_EVENTS = {
    PaymentState.SUCCEEDED: outbox.PAYMENT_SUCCEEDED,
    PaymentState.FAILED: outbox.PAYMENT_FAILED,
}
_UPDATABLE = frozenset({"failure_reason", "provider_ref", "risk_score"})


_INSERT = (
    "INSERT INTO payment.payments (payment_id, merchant_id, idempotency_key, request_fingerprint,"
    " user_id, amount, currency, payment_method, channel, description, state, attempt)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'created', %s)"
    " ON CONFLICT (merchant_id, idempotency_key) DO NOTHING RETURNING *"
)
# Between a key and its attempt number in payment.payments.idempotency_key (attempts 2 and later):
# a client's key is printable ASCII, so it never contains this.
ATTEMPT_SEPARATOR = "\x1f"


def attempt_key(idempotency_key: str, attempt: int) -> str:
    """The stored idempotency_key of the key's attempt `attempt` (see migrations/002)."""
    return idempotency_key if attempt == 1 else f"{idempotency_key}{ATTEMPT_SEPARATOR}{attempt}"


def insert_payment(
    merchant_id: str, idempotency_key: str, fingerprint: str, req: PaymentRequest
) -> tuple[Payment, bool]:
    """Insert the key's payment; (latest attempt, False) when the key already has one to answer with.

    A key's first request inserts attempt 1 in one statement. A key already used gets a new
    attempt only when its latest one failed on our side (`Payment.retryable`) and the body is the
    same; otherwise the latest attempt comes back, for the caller to replay, report in flight or
    refuse as a conflict. Single statements without a transaction around them: rows are never
    deleted and a failed row never changes, so what one statement read stays true for the next,
    and the unique (merchant_id, idempotency_key) lets only one of two concurrent retries start an
    attempt.
    """
    inserted = _insert_attempt(merchant_id, idempotency_key, fingerprint, req, 1)
    if inserted is not None:
        return inserted, True
    current = _attempt(merchant_id, idempotency_key, 1)
    assert current is not None, "the conflicting row exists: rows are never deleted"
    while current.retryable and current.request_fingerprint == fingerprint:
        following = current.attempt + 1
        found = _attempt(merchant_id, idempotency_key, following)
        if found is None:
            inserted = _insert_attempt(merchant_id, idempotency_key, fingerprint, req, following)
            if inserted is not None:
                return inserted, True
            # A concurrent retry started that attempt first: answer with it (in flight now).
            found = _attempt(merchant_id, idempotency_key, following)
            assert found is not None
        current = found
    return current, False


def _insert_attempt(
    merchant_id: str, idempotency_key: str, fingerprint: str, req: PaymentRequest, attempt: int
) -> Payment | None:
    with db.statement("payment_insert") as conn:
        row = conn.execute(
            _INSERT,
            (
                uuid.uuid4(),
                merchant_id,
                attempt_key(idempotency_key, attempt),
                fingerprint,
                req.user_id,
                req.amount,
                req.currency,
                req.payment_method,
                req.payment_method,  # the provider channel is named after the method
                req.description,
                attempt,
            ),
        ).fetchone()
    return Payment.from_row(row) if row is not None else None


def _attempt(merchant_id: str, idempotency_key: str, attempt: int) -> Payment | None:
    with db.statement("payment_attempt") as conn:
        row = conn.execute(
            "SELECT * FROM payment.payments WHERE merchant_id = %s AND idempotency_key = %s",
            (merchant_id, attempt_key(idempotency_key, attempt)),
        ).fetchone()
    return Payment.from_row(row) if row is not None else None


def get_payment(payment_id: str, merchant_id: str | None = None) -> Payment | None:
    try:
        uuid.UUID(payment_id)
    except ValueError:
        return None
    with db.statement("payment_get") as conn:
        query = "SELECT * FROM payment.payments WHERE payment_id = %s"
        params: list[Any] = [payment_id]
        if merchant_id is not None:
            query += " AND merchant_id = %s"
            params.append(merchant_id)
        row = conn.execute(query, params).fetchone()
    return Payment.from_row(row) if row else None


@functools.cache
def _transition_query(final: bool, names: tuple[str, ...]) -> str:
    """The guarded UPDATE of a transition setting `names` (from _UPDATABLE), composed once per
    shape: a few shapes exist, and composing and quoting each time cost more than the statement.
    A final transition's UPDATE also inserts its outbox event, in the same statement."""
    assignments: list[sql.Composable] = [sql.SQL("state = %s"), sql.SQL("updated_at = now()")]
    if final:
        assignments.append(sql.SQL("finalized_at = now()"))  # the same instant as updated_at
    assignments += [sql.SQL("{} = %s").format(sql.Identifier(name)) for name in names]
    query = sql.SQL("UPDATE payment.payments SET {} WHERE payment_id = %s AND state = %s RETURNING *").format(
        sql.SQL(", ").join(assignments)
    )
    return (outbox.with_event(query) if final else query).as_string(None)


def transition(payment: Payment, target: PaymentState, **fields: Any) -> Payment | None:
    """Move `payment` from its current state to `target`; None when its state changed meanwhile."""
    check_payment_transition(payment.state, target)
    unknown = set(fields) - _UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    final = target in FINAL_PAYMENT_STATES
    params: list[Any] = [target.value, *fields.values(), payment.payment_id, payment.state.value]
    if final:
        # The event describes the payment as the guarded UPDATE leaves it: the state and reason
        # set here, the rest as read (a payment's other columns do not change before it is final).
        # Sent with the UPDATE, it is written only when the UPDATE moves the row.
        reason = fields.get("failure_reason", payment.failure_reason)
        moved = replace(payment, state=target, failure_reason=reason)
        event = outbox.payment_event(_PAYMENT_EVENTS[target], moved)
        params += outbox.event_parameters(event)
    with db.statement(f"payment_{target.value}") as conn:
        row = conn.execute(_transition_query(final, tuple(fields)), params).fetchone()
    return None if row is None else Payment.from_row(row)


def open_payments(older_than_s: float, limit: int) -> list[Payment]:
    """Payments not final whose last change is older than `older_than_s` (their request is over)."""
    with db.statement("payment_open") as conn:
        rows = conn.execute(
            "SELECT * FROM payment.payments WHERE state NOT IN ('succeeded', 'failed')"
            " AND updated_at < now() - make_interval(secs => %s) ORDER BY updated_at LIMIT %s",
            (older_than_s, limit),
        ).fetchall()
    return [Payment.from_row(r) for r in rows]


# -- refunds ------------------------------------------------------------------------------------


class RefundRejected(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def reserve_refund(payment: Payment, amount: int, idempotency_key: str | None) -> tuple[Refund, bool]:
    """Reserve `amount` of the payment's captured money under a row lock; (refund, created).

    With an idempotency key already used for this payment, the earlier refund comes back with
    created=False. Raises RefundRejected when the payment is not refundable or the amount exceeds
    what is left; the CHECK constraint on payment.payments enforces the same limit once more.
    """
    with db.transaction("refund_reserve") as conn:
        row = conn.execute(
            "SELECT * FROM payment.payments WHERE payment_id = %s FOR UPDATE", (payment.payment_id,)
        ).fetchone()
        assert row is not None
        locked = Payment.from_row(row)
        if idempotency_key is not None:
            existing = conn.execute(
                "SELECT * FROM payment.refunds WHERE payment_id = %s AND idempotency_key = %s",
                (payment.payment_id, idempotency_key),
            ).fetchone()
            if existing is not None:
                return Refund.from_row(existing), False
        if locked.state != PaymentState.SUCCEEDED:
            raise RefundRejected("payment_not_refundable", f"a {locked.status} payment cannot be refunded")
        left = locked.amount - locked.refunded_amount - locked.refund_reserved_amount
        if amount > left:
            raise RefundRejected(
                "refund_exceeds_captured",
                f"refund of {amount} exceeds the {left} left to refund of this payment",
            )
        conn.execute(
            "UPDATE payment.payments SET refund_reserved_amount = refund_reserved_amount + %s,"
            " updated_at = now() WHERE payment_id = %s",
            (amount, payment.payment_id),
        )
        refund_row = conn.execute(
            "INSERT INTO payment.refunds (refund_id, payment_id, merchant_id, idempotency_key, amount,"
            " currency, state) VALUES (%s, %s, %s, %s, %s, %s, 'pending') RETURNING *",
            (
                uuid.uuid4(),
                payment.payment_id,
                payment.merchant_id,
                idempotency_key,
                amount,
                payment.currency,
            ),
        ).fetchone()
        assert refund_row is not None
        return Refund.from_row(refund_row), True


def transition_refund(
    refund: Refund, target: RefundState, failure_reason: str | None = None
) -> Refund | None:
    """Guarded refund transition; on a final state, settles the reservation on the payment."""
    check_refund_transition(refund.state, target)
    with db.transaction(f"refund_{target.value}") as conn:
        row = conn.execute(
            "UPDATE payment.refunds SET state = %s, failure_reason = %s, updated_at = now()"
            " WHERE refund_id = %s AND state = %s RETURNING *",
            (target.value, failure_reason, refund.refund_id, refund.state.value),
        ).fetchone()
        if row is None:
            return None
        moved = Refund.from_row(row)
        if target == RefundState.SUCCEEDED:
            payment_row = conn.execute(
                "UPDATE payment.payments SET refund_reserved_amount = refund_reserved_amount - %s,"
                " refunded_amount = refunded_amount + %s, updated_at = now()"
                " WHERE payment_id = %s RETURNING *",
                (moved.amount, moved.amount, moved.payment_id),
            ).fetchone()
            assert payment_row is not None
            outbox.write(
                conn, outbox.payment_event(outbox.PAYMENT_REFUNDED, Payment.from_row(payment_row), moved)
            )
        elif target == RefundState.FAILED:
            conn.execute(
                "UPDATE payment.payments SET refund_reserved_amount = refund_reserved_amount - %s,"
                " updated_at = now() WHERE payment_id = %s",
                (moved.amount, moved.payment_id),
            )
        return moved


def get_refund(refund_id: str) -> Refund | None:
    with db.statement("refund_get") as conn:
        row = conn.execute("SELECT * FROM payment.refunds WHERE refund_id = %s", (refund_id,)).fetchone()
    return Refund.from_row(row) if row else None


def open_refunds(older_than_s: float, limit: int) -> list[Refund]:
    with db.statement("refund_open") as conn:
        rows = conn.execute(
            "SELECT * FROM payment.refunds WHERE state IN ('pending', 'approved')"
            " AND updated_at < now() - make_interval(secs => %s) ORDER BY updated_at LIMIT %s",
            (older_than_s, limit),
        ).fetchall()
    return [Refund.from_row(r) for r in rows]
