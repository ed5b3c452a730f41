"""payment service: the HTTP API the gateway calls (see docs/internal-api.md).

    POST /v1/payments                         one payment, idempotent per (merchant, Idempotency-Key)
    GET  /v1/payments/<payment_id>            the merchant's own payment
    POST /v1/payments/<payment_id>/refunds    a (partial) refund, optionally idempotent

The merchant comes from X-Merchant-Id, which only the gateway sets (internal network).
Readiness: PostgreSQL and Redis (the idempotency store; without it payments are refused).
"""

from __future__ import annotations

import logging
import re
import time

from flask import Flask, Response, request

from apps.common import background, db, redis_client
from apps.common.app import create_base_app, deadline
from apps.common.config import env
from apps.common.errors import ApiError
from apps.common.validation import json_body
from apps.payment import (
    idempotency,
    orchestrator,
    provider_reconcile,
    reconcile,
    refunds,
    relay,
    store,
    telemetry,
)
from apps.payment.idempotency import IdempotencyStore, Outcome, StoreUnavailable
from apps.payment.models import PaymentRequest, RefundRequest
from apps.payment.states import FINAL_PAYMENT_STATES
from apps.payment.steps import Budgets

SERVICE = "payment"
JSON = "application/json"
# What the gateway accepts; the stored key of a later attempt adds a separator outside this range.
_IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}")
log = logging.getLogger(__name__)


def _merchant() -> str:
    merchant = request.headers.get("X-Merchant-Id", "")
    if not merchant or len(merchant) > 128:
        raise ApiError(401, "unauthorized", "X-Merchant-Id is required", field="X-Merchant-Id")
    return merchant


def _idempotency_key(required: bool) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None or key == "":
        if required:
            raise ApiError(422, "invalid_request", "Idempotency-Key is required", field="Idempotency-Key")
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ApiError(
            422,
            "invalid_request",
            "Idempotency-Key: 1 to 255 printable ASCII characters",
            field="Idempotency-Key",
        )
    return key


def _store_unavailable() -> ApiError:
    return ApiError(
        503,
        "idempotency_store_unavailable",
        "the idempotency store is unavailable; the payment was not attempted, retry later",
    )


def create_app() -> Flask:
    app = create_base_app(SERVICE, readiness={"postgres": db.ping, "redis": redis_client.ping})
    telemetry.prime()
    keys = IdempotencyStore("payment")
    budgets = Budgets.from_env()
    _start_reconciler_thread()
    if env("KAFKA_BOOTSTRAP", ""):  # the outbox relay (apps/payment/relay.py), one per worker
        relay.start(env("KAFKA_BOOTSTRAP"))

    @app.post("/v1/payments")
    def create_payment() -> Response:
        started = time.perf_counter()
        merchant = _merchant()
        key = _idempotency_key(required=True)
        assert key is not None
        req = json_body(PaymentRequest)
        body = req.model_dump()
        try:
            claim = keys.claim(merchant, key, body, deadline().remaining_ms())
        except StoreUnavailable:
            raise _store_unavailable() from None
        if claim.outcome == Outcome.REPLAYED:
            assert claim.response is not None
            idempotency.record(Outcome.REPLAYED)
            return Response(claim.response.body, claim.response.status, mimetype=JSON)
        if claim.outcome == Outcome.CONFLICT:
            idempotency.record(Outcome.CONFLICT)
            raise _conflict()
        if claim.outcome == Outcome.IN_FLIGHT:
            idempotency.record(Outcome.IN_FLIGHT)
            raise _in_flight()
        try:
            payment, created = store.insert_payment(merchant, key, claim.fingerprint, req)
        except Exception:
            _release(keys, claim)
            raise
        if not created:
            # The key's claim had expired (or Redis lost it) but PostgreSQL remembers the payment.
            if payment.request_fingerprint != claim.fingerprint:
                _release(keys, claim)
                idempotency.record(Outcome.CONFLICT)
                raise _conflict()
            if payment.state not in FINAL_PAYMENT_STATES:
                _release(keys, claim)
                idempotency.record(Outcome.IN_FLIGHT)
                raise _in_flight()
            idempotency.record(Outcome.REPLAYED)
            # The answer it gave when it became final, byte for byte, whatever happened since.
            status, payload = orchestrator.response_for(orchestrator.Outcome(payment.as_finalized()))
            _complete(keys, claim, status, payload)
            return Response(payload, status, mimetype=JSON)
        idempotency.record(Outcome.NEW)
        outcome = orchestrator.process(payment, deadline(), started, budgets)
        status, payload = orchestrator.response_for(outcome)
        if outcome.payment.retryable:
            # Failed on our side with no money moved: not the key's final answer. The key is
            # free again, and a retry with it makes a new attempt (store.insert_payment).
            _release(keys, claim)
        elif outcome.payment.state in FINAL_PAYMENT_STATES:
            _complete(keys, claim, status, payload)
        # A payment left pending keeps its claim until the claim expires; then the database answers.
        return Response(payload, status, mimetype=JSON)

    @app.get("/v1/payments/<payment_id>")
    def get_payment(payment_id: str) -> Response:
        payment = store.get_payment(payment_id, _merchant())
        if payment is None:
            raise ApiError(404, "payment_not_found", "no such payment")
        telemetry.annotate(payment)
        return Response(orchestrator.encode(payment.public()), 200, mimetype=JSON)

    @app.post("/v1/payments/<payment_id>/refunds")
    def create_refund(payment_id: str) -> Response:
        merchant = _merchant()
        key = _idempotency_key(required=False)
        req = json_body(RefundRequest)
        payment = store.get_payment(payment_id, merchant)
        if payment is None:
            raise ApiError(404, "payment_not_found", "no such payment")
        telemetry.annotate(payment)
        try:
            refund, created = store.reserve_refund(payment, req.amount, key)
        except store.RefundRejected as exc:
            telemetry.refund("rejected", payment.currency)
            status = 422 if exc.code == "refund_exceeds_captured" else 409
            raise ApiError(status, exc.code, exc.message, field="amount" if status == 422 else None) from None
        if not created:
            if refund.amount != req.amount:
                raise _conflict()
            outcome = refunds.RefundOutcome(refund)
        else:
            outcome = refunds.finish(refund, payment, deadline(), budgets)
        status, payload = refunds.response_for(outcome)
        return Response(payload, status, mimetype=JSON)

    return app


def _conflict() -> ApiError:
    return ApiError(409, "idempotency_conflict", "this Idempotency-Key was used with a different request")


def _in_flight() -> ApiError:
    return ApiError(409, "idempotency_in_flight", "a request with this Idempotency-Key is still in progress")


def _complete(keys: IdempotencyStore, claim: idempotency.Claim, status: int, payload: bytes) -> None:
    try:
        keys.complete(claim, status, payload)
    except StoreUnavailable:
        # Counted; the payment is final and PostgreSQL answers a retry with the same outcome.
        log.warning("could not store the idempotent response")


def _release(keys: IdempotencyStore, claim: idempotency.Claim) -> None:
    try:
        keys.release(claim)
    except StoreUnavailable:
        log.warning("could not release an idempotency claim; it expires after the deadline")


def _start_reconciler_thread() -> None:
    """Each worker reconciles in the background: its own open payments every
    PAYMENT_RECONCILE_INTERVAL_S (5), the provider's charges every PROVIDER_RECONCILE_INTERVAL_S
    (300); 0 turns either off.

    Several workers reconciling at once is safe: every transition is a guarded UPDATE and every
    call the reconcilers make is idempotent.
    """
    interval = env("PAYMENT_RECONCILE_INTERVAL_S", 5.0, float)
    if interval > 0:
        background.start_once("payment-reconciler", lambda: reconcile.Reconciler(interval))
    provider_interval = env("PROVIDER_RECONCILE_INTERVAL_S", 300.0, float)
    if provider_interval > 0:
        background.start_once(
            "provider-reconciler", lambda: provider_reconcile.ProviderReconciler(provider_interval)
        )
