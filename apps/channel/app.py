"""channel service: the simulated provider's HTTP API (called by payment; its fault switches by the
tooling, signed as `operator`: apps/common/internal_auth.py).

    POST /v1/charges {payment_id, amount, currency, channel}        idempotent per payment_id
    GET  /v1/charges/<payment_id>                                   the recorded outcome, or 404
    GET  /v1/charges?created_before=<ISO 8601>&after=<id>&limit=<n> approved charges (reconciliation)
    POST /v1/charges/<payment_id>/void {reason}                     reverse an approved charge in full
    POST /v1/refunds {refund_id, payment_id, amount, currency, channel}   idempotent per refund_id
    GET/PUT/DELETE /v1/faults                                       the fault switches
    GET  /v1/faults/defaults                                        the starting switches

Injected errors answer 503 provider_error; injected timeouts answer 504 only after the caller's
deadline (X-Deadline-Ms, else the 3 s budget) has passed. State lives in this one process: run it
with one gunicorn worker (threads for concurrency), or switches and idempotency split per worker.
Readiness: no dependencies.
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from flask import Flask, Response, jsonify, request
from opentelemetry import trace
from pydantic import Field

from apps.channel.faults import FaultState, Switches, SwitchUpdate
from apps.channel.provider import Conflict, NotVoidable, Provider, Request, Result
from apps.common import internal_auth, metrics
from apps.common.app import create_base_app, deadline
from apps.common.config import env
from apps.common.errors import ApiError
from apps.common.validation import StrictModel, json_body

SERVICE = "channel"
CHANNELS = ("card", "wallet", "bank_transfer")
OUTCOMES = ("approved", "declined", "error", "timeout")
log = logging.getLogger(__name__)

Identifier = Annotated[str, Field(min_length=1, max_length=128)]


class _Money(StrictModel):
    payment_id: Identifier
    amount: Annotated[int, Field(gt=0, le=10**12)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    channel: Literal["card", "wallet", "bank_transfer"]


class ChargeRequest(_Money):
    pass


class RefundRequest(_Money):
    refund_id: Identifier


class VoidRequest(StrictModel):
    reason: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z_]+$")]


def _created_before() -> datetime:
    raw = request.args.get("created_before")
    if not raw:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise ApiError(
            422, "invalid_request", "created_before: an ISO 8601 time", field="created_before"
        ) from None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _answer(result: Result) -> tuple[Response, int]:
    if result.outcome == "timeout":
        raise ApiError(504, "provider_timeout", "the provider did not answer in time")
    if result.outcome == "error":
        raise ApiError(503, "provider_error", "the provider failed to process the request")
    assert result.record is not None
    body: dict[str, Any] = {k: v for k, v in result.record.items() if k not in ("created_at",)}
    return jsonify(body), 200


def create_app() -> Flask:
    app = create_base_app(SERVICE)
    seed = env("CHANNEL_SEED", -1, int)
    faults = FaultState(Switches.from_env())
    provider = Provider(faults, random.Random(seed) if seed >= 0 else None)
    requests_total = metrics.counter("channel_requests_total")
    latency = metrics.histogram("channel_latency_seconds")
    for channel in CHANNELS:  # zero-valued series before the first request
        latency.labels(channel)
        for outcome in OUTCOMES:
            requests_total.labels(channel, outcome)

    def run(req: Request) -> tuple[Response, int]:
        try:
            result = provider.handle(req, deadline())
        except Conflict as exc:
            raise ApiError(409, "idempotency_conflict", str(exc)) from None
        requests_total.labels(req.channel, result.outcome).inc()
        trace.get_current_span().set_attributes(
            {
                "channel.name": req.channel,
                "channel.outcome": result.outcome,
                "channel.replayed": result.replayed,
            }
        )
        if not result.replayed:
            latency.labels(req.channel).observe(result.latency_s)
        ids = {"payment.id": req.payment_id}
        if req.kind == "refund":
            ids["refund.id"] = req.key
        log.info(
            "%s %s",
            req.kind,
            result.outcome,
            extra={
                **ids,
                "channel.name": req.channel,
                "channel.outcome": result.outcome,
                "channel.replayed": result.replayed,
            },
        )
        return _answer(result)

    @app.post("/v1/charges")
    def charge() -> tuple[Response, int]:
        b = json_body(ChargeRequest)
        return run(Request("charge", b.payment_id, b.payment_id, b.amount, b.currency, b.channel))

    @app.get("/v1/charges/<payment_id>")
    def charge_status(payment_id: str) -> Response:
        record = provider.lookup("charge", payment_id)
        if record is None:
            raise ApiError(404, "charge_not_found", f"payment {payment_id} was never charged")
        return jsonify(record)

    @app.get("/v1/charges")
    @internal_auth.also_from(internal_auth.OPERATOR)
    def approved_charges() -> Response:
        # The reconciliation's view of the provider: what it will settle unless voided.
        limit = request.args.get("limit", "500")
        if not limit.isdigit() or not 1 <= int(limit) <= 1000:
            raise ApiError(422, "invalid_request", "limit: 1 to 1000", field="limit")
        charges, following = provider.approved_charges(
            _created_before(), request.args.get("after") or None, int(limit)
        )
        return jsonify({"charges": charges, "next": following})

    @app.post("/v1/charges/<payment_id>/void")
    def void_charge(payment_id: str) -> Response:
        body = json_body(VoidRequest)
        try:
            record = provider.void(payment_id, body.reason)
        except NotVoidable as exc:
            raise ApiError(409, "not_voidable", str(exc)) from None
        return jsonify(record)

    @app.post("/v1/refunds")
    def refund() -> tuple[Response, int]:
        b = json_body(RefundRequest)
        return run(Request("refund", b.refund_id, b.payment_id, b.amount, b.currency, b.channel))

    @app.get("/v1/faults")
    @internal_auth.also_from(internal_auth.OPERATOR)
    def get_faults() -> Response:
        return jsonify(faults.current().as_json())

    @app.get("/v1/faults/defaults")
    @internal_auth.also_from(internal_auth.OPERATOR)
    def default_faults() -> Response:
        # The starting switches (from the environment), which DELETE /v1/faults restores.
        return jsonify(faults.baseline.as_json())

    @app.put("/v1/faults")
    @internal_auth.also_from(internal_auth.OPERATOR)
    def put_faults() -> Response:
        return jsonify(faults.update(json_body(SwitchUpdate)).as_json())

    @app.delete("/v1/faults")
    @internal_auth.also_from(internal_auth.OPERATOR)
    def reset_faults() -> Response:
        return jsonify(faults.reset().as_json())

    return app
