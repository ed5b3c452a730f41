"""The gateway's application factory: `gunicorn 'apps.gateway.app:create_app()'`."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import psycopg
import redis
import yaml
from flask import Flask, Response, g, jsonify
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import RequestEntityTooLarge

from apps.common import db, metrics, redis_client
from apps.common.app import create_base_app
from apps.common.config import env
from apps.common.errors import error_body
from apps.common.http import ServiceClient
from apps.gateway import auth, routes
from apps.gateway.validation import MAX_BODY_BYTES

OPENAPI_PATH = Path(__file__).with_name("openapi.yaml")


@cache
def openapi_json() -> bytes:
    return json.dumps(yaml.safe_load(OPENAPI_PATH.read_text(encoding="utf-8")), indent=2).encode()


def _redis_readiness() -> str:
    """Redis holds only the rate limiter's windows, which fail open: without it the gateway still
    serves correctly, so it stays ready and says "degraded" (taking every gateway out of rotation
    would turn a limiter outage into a full one)."""
    try:
        redis_client.ping()
    except redis.RedisError:
        return "degraded: redis unreachable (rate limits not enforced)"
    return "ok"


def create_app() -> Flask:
    app = create_base_app("gateway", readiness={"postgres": db.ping, "redis": _redis_readiness})
    # One byte over the limit: werkzeug answers 413 itself when Content-Length is larger, but a
    # chunked body is only cut at this length, silently; routes see the extra byte and refuse it.
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES + 1
    app.extensions["clients"] = {
        "payment": ServiceClient("payment", env("PAYMENT_URL")),
        "account": ServiceClient("account", env("ACCOUNT_URL")),
    }
    app.register_blueprint(routes.bp)
    # Every series exists from the start at 0, so rate() and alerts see the first failure.
    for reason in auth.FAILURE_REASONS:
        metrics.counter("gateway_auth_failures_total").labels(reason)
    metrics.counter("gateway_rate_limited_requests_total")

    @app.get("/api/v1/openapi.json")
    def openapi() -> Response:
        return Response(openapi_json(), content_type="application/json")

    @app.errorhandler(psycopg.OperationalError)
    @app.errorhandler(PoolTimeout)
    def _database_down(_exc: Exception) -> tuple[Response, int]:
        return jsonify(error_body("dependency_unavailable", "the merchant store is unavailable")), 503

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc: RequestEntityTooLarge) -> tuple[Response, int]:
        message = f"the request body is over {MAX_BODY_BYTES} bytes"
        return jsonify(error_body("payload_too_large", message)), 413

    @app.after_request
    def _request_id(response: Response) -> Response:
        if "request_id" in g:
            response.headers["X-Request-Id"] = g.request_id
        return response

    return app
