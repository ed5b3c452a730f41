"""risk service: POST /v1/risk/evaluations {payment_id, user_id, amount, currency}.

Answers 200 {decision, score, reasons, mode}. When Redis is unreachable the service degrades
(mode "degraded": only amounts below RISK_DEGRADED_MAX_AMOUNT pass) instead of failing.

Readiness: the service stays ready when Redis is down, and /readyz says "degraded". Taking risk
out of rotation would turn a partial degradation (small payments still flow) into a full outage
of payments; the Redis errors are visible in redis_client_errors_total and risk_decisions_total
{mode="degraded"}, which is where alerting belongs.
"""

from __future__ import annotations

import logging
from typing import Annotated

import redis
from flask import Flask, Response, jsonify
from opentelemetry import trace
from pydantic import Field

from apps.common import metrics, redis_client
from apps.common.app import create_base_app
from apps.common.validation import StrictModel, json_body
from apps.risk import history, rules

SERVICE = "risk"
log = logging.getLogger(__name__)


class EvaluationRequest(StrictModel):
    payment_id: Annotated[str, Field(min_length=1, max_length=128)]
    user_id: Annotated[str, Field(min_length=1, max_length=128)]
    amount: Annotated[int, Field(gt=0, le=10**12)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


def _redis_readiness() -> str:
    try:
        redis_client.ping()
    except redis.RedisError:
        return "degraded: redis unreachable"
    return "ok"


def create_app() -> Flask:
    thresholds = rules.Thresholds.from_env()
    app = create_base_app(SERVICE, readiness={"redis": _redis_readiness})
    decisions = metrics.counter("risk_decisions_total")
    # Zero-valued series from the start (rate() and absent() work before the first decision).
    for decision in ("approve", "reject"):
        for mode in ("normal", "degraded"):
            decisions.labels(decision, mode)
    metrics.counter("redis_client_errors_total").labels("risk_history")

    @app.post("/v1/risk/evaluations")
    def evaluate() -> Response:
        body = json_body(EvaluationRequest)
        try:
            facts = history.record(body.user_id, body.payment_id, thresholds.velocity_window_s)
        except redis.RedisError as exc:
            log.warning("redis unreachable, deciding in degraded mode", extra={"error": type(exc).__name__})
            result = rules.assess_degraded(body.amount, thresholds)
        else:
            result = rules.assess(body.amount, facts.recent_payments, facts.first_payment, thresholds)
        decisions.labels(result.decision, result.mode).inc()
        span = trace.get_current_span()  # business attributes on the zero-code server span
        span.set_attributes(
            {"risk.decision": result.decision, "risk.mode": result.mode, "risk.score": result.score}
        )
        log.info(
            "risk decision: %s",
            result.decision,
            extra={
                "payment.id": body.payment_id,
                "risk.decision": result.decision,
                "risk.mode": result.mode,
                "risk.score": result.score,
                "risk.reasons": ",".join(result.reasons),
            },
        )
        return jsonify(result.as_json())

    return app
