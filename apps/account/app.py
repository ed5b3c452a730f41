"""account service: the ledger's HTTP API (internal; called by payment and the gateway).

    POST /v1/ledger/debits   {payment_id, user_id, currency, amount}
    POST /v1/ledger/credits  {reference_id, kind, user_id, currency, amount}
    GET  /v1/accounts/<user_id>?currency=XXX

201 for a booked movement, 200 with duplicate=true for a retried one (nothing moves twice).
Readiness: PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from flask import Flask, Response, jsonify, request
from opentelemetry import trace
from psycopg_pool import PoolTimeout

from apps.account import ledger
from apps.account.api import BalanceQuery, CreditRequest, DebitRequest
from apps.common import db, metrics
from apps.common.app import create_base_app, deadline
from apps.common.errors import ApiError, DeadlineExceeded, DependencyError
from apps.common.validation import json_body, parse

SERVICE = "account"
log = logging.getLogger(__name__)


@contextmanager
def _within_deadline(operation: str) -> Iterator[psycopg.Connection[Any]]:
    """A transaction bounded by the request's deadline; PostgreSQL trouble becomes 503/504.

    statement_timeout (which also bounds waiting for a row lock) is what remains of the budget,
    so a request never holds a connection after its caller has given up.
    """
    budget = deadline()
    budget.check()
    try:
        with db.transaction(operation) as conn:
            conn.execute(
                "SELECT set_config('statement_timeout', %s, true)", (f"{max(1, budget.remaining_ms())}ms",)
            )
            yield conn
    except psycopg.errors.QueryCanceled as exc:
        raise DeadlineExceeded(f"{operation} did not finish within the request deadline") from exc
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise DependencyError("postgres", "unavailable", type(exc).__name__) from exc


def _book(
    operation: str, work: Callable[[psycopg.Connection[Any]], ledger.Movement], reference: dict[str, str]
) -> tuple[Response, int]:
    """Run one ledger movement in its own transaction, count its result and log it with `reference`
    (the payment or refund id it books for)."""
    operations = metrics.counter("ledger_operations_total")
    refusal: ledger.LedgerError | None = None
    try:
        with _within_deadline(f"ledger_{operation}") as conn:
            try:
                movement = work(conn)
            except ledger.LedgerError as exc:
                # Commit what a refusal recorded (a voided payment id); it never moved money.
                refusal = exc
    except Exception:
        operations.labels(operation, "error").inc()
        raise
    if refusal is not None:
        result = "insufficient_funds" if isinstance(refusal, ledger.InsufficientFunds) else "error"
        operations.labels(operation, result).inc()
        trace.get_current_span().set_attributes(
            {"ledger.operation": operation, "ledger.result": refusal.code}
        )
        log.info(
            "ledger %s refused",
            operation,
            extra={**reference, "ledger.operation": operation, "ledger.result": refusal.code},
        )
        raise ApiError(refusal.status, refusal.code, str(refusal), field=refusal.field)
    result = "duplicate" if movement.duplicate else "applied"
    operations.labels(operation, result).inc()
    trace.get_current_span().set_attributes({"ledger.operation": operation, "ledger.result": result})
    log.info(
        "ledger %s booked",
        operation,
        extra={**reference, "ledger.operation": operation, "ledger.result": result},
    )
    return jsonify(movement.as_json()), 200 if movement.duplicate else 201


def create_app() -> Flask:
    app = create_base_app(SERVICE, readiness={"postgres": db.ping})
    # Zero-valued series from the start, so rate() and absent() see the counter before traffic.
    operations = metrics.counter("ledger_operations_total")
    for operation in ("debit", "credit"):
        for result in ("applied", "duplicate", "insufficient_funds", "error"):
            operations.labels(operation, result)

    @app.post("/v1/ledger/debits")
    def debit() -> tuple[Response, int]:
        body = json_body(DebitRequest)
        return _book(
            "debit",
            lambda conn: ledger.debit(conn, body.payment_id, body.user_id, body.currency, body.amount),
            {"payment.id": body.payment_id},
        )

    @app.post("/v1/ledger/credits")
    def credit() -> tuple[Response, int]:
        body = json_body(CreditRequest)
        return _book(
            "credit",
            lambda conn: ledger.credit(
                conn, body.kind, body.reference_id, body.user_id, body.currency, body.amount
            ),
            # A compensation credits a payment's debit back; a refund credit books a refund.
            {
                "payment.id" if body.kind == "compensation" else "refund.id": body.reference_id,
                "ledger.kind": body.kind,
            },
        )

    @app.get("/v1/accounts/<user_id>")
    def account(user_id: str) -> Response:
        query = parse(BalanceQuery, request.args.to_dict())
        with _within_deadline("account_balance") as conn:
            balance = ledger.balance(conn, user_id, query.currency)
        if balance is None:
            raise ApiError(404, "account_not_found", f"no {query.currency} account for user {user_id}")
        return jsonify({"user_id": user_id, "currency": query.currency, "balance": balance})

    return app
