"""The base every service's create_app() builds on.

It gives each service the same /healthz, /readyz and /metrics, JSON errors for every failure
(including Flask's own 404/405/413, malformed JSON and an unreachable database), JSON logs,
request deadlines, and the HTTP server metrics of the OpenTelemetry semantic conventions.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

import psycopg
from flask import Flask, Response, g, jsonify, request
from psycopg_pool import PoolTimeout
from werkzeug.exceptions import HTTPException

import catalog
from apps.common import internal_auth, logs, metrics
from apps.common.config import budget_ms
from apps.common.deadline import HEADER as DEADLINE_HEADER
from apps.common.deadline import Deadline
from apps.common.errors import ApiError, DeadlineExceeded, DependencyError, error_body

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], object]

# Flask rules use <name> or <conv:name>; the semantic conventions (and span names) use {name}.
_RULE_PARAM = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable_entity",
    429: "rate_limited",
}


# Probes and scrapes are not traffic: counting a failing /readyz would burn the availability SLO.
_UNMEASURED_PATHS = internal_auth.UNAUTHENTICATED_PATHS
# An internal service's largest body (its callers send small JSON documents); the gateway has its own.
MAX_INTERNAL_BODY_BYTES = 64 * 1024


def route_template(rule: str | None) -> str:
    return _RULE_PARAM.sub(r"{\1}", rule) if rule else "unmatched"


def create_base_app(service: str, readiness: dict[str, ReadinessCheck] | None = None) -> Flask:
    app = Flask(service)
    app.config["SERVICE_NAME"] = service
    app.config["BUDGET_MS"] = budget_ms(service)
    logs.configure(service)
    checks: dict[str, ReadinessCheck] = dict(readiness or {})
    app.extensions["readiness"] = checks
    declared = catalog.default().services.get(service)
    # Internal services accept only signed calls from their callers (apps/common/internal_auth.py);
    # without INTERNAL_AUTH_SECRET they refuse to start rather than run open.
    guard = internal_auth.Guard(service) if declared is not None and not declared.public else None
    if guard is not None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_INTERNAL_BODY_BYTES

    duration = metrics.histogram("http_server_request_duration_seconds")
    active = metrics.gauge("http_server_active_requests")

    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        g.deadline = Deadline.start(app.config["BUDGET_MS"], request.headers.get(DEADLINE_HEADER))
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
        active.labels(request.method).inc()
        g.active_counted = True
        if guard is not None:
            g.caller = guard.check(request)

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.get("started")
        if started is not None and request.path not in _UNMEASURED_PATHS:
            route = route_template(request.url_rule.rule if request.url_rule else None)
            duration.labels(request.method, route, str(response.status_code)).observe(
                time.perf_counter() - started
            )
        return response

    @app.teardown_request
    def _finish(_exc: BaseException | None) -> None:
        if g.pop("active_counted", False):
            active.labels(request.method).dec()

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> tuple[Response, int, dict[str, str]]:
        return jsonify(exc.body()), exc.status, exc.headers

    @app.errorhandler(DependencyError)
    def _dependency_error(exc: DependencyError) -> tuple[Response, int]:
        status = 504 if exc.kind == "timeout" else 503
        code = "dependency_timeout" if status == 504 else "dependency_unavailable"
        log.warning("dependency failed", extra={"dependency": exc.dependency, "kind": exc.kind})
        return jsonify(error_body(code, f"{exc.dependency} is {exc.kind.replace('_', ' ')}")), status

    @app.errorhandler(DeadlineExceeded)
    def _deadline(exc: DeadlineExceeded) -> tuple[Response, int]:
        return jsonify(error_body("deadline_exceeded", str(exc))), 504

    # PostgreSQL down, restarting or out of connections is our outage, never a 500: the pool
    # timing out (PoolTimeout) and a connection failing (OperationalError) are 503, a statement
    # cancelled by its timeout (QueryCanceled, the request's deadline) is 504.
    @app.errorhandler(psycopg.OperationalError)
    @app.errorhandler(PoolTimeout)
    def _database_unavailable(exc: Exception) -> tuple[Response, int]:
        log.warning("database unavailable", extra={"dependency": "postgres", "error": type(exc).__name__})
        return jsonify(error_body("dependency_unavailable", "the database is unavailable")), 503

    @app.errorhandler(psycopg.errors.QueryCanceled)
    def _database_timeout(exc: psycopg.errors.QueryCanceled) -> tuple[Response, int]:
        return jsonify(error_body("deadline_exceeded", "a database statement ran out of time")), 504

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response, int]:
        status = exc.code or 500
        code = _HTTP_CODES.get(status, "error")
        return jsonify(error_body(code, exc.description or exc.name)), status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error")
        return jsonify(error_body("internal_error", "internal error")), 500

    @app.get("/healthz")
    def healthz() -> Response:
        return jsonify({"status": "ok", "service": service})

    @app.get("/readyz")
    def readyz() -> tuple[Response, int]:
        results: dict[str, str] = {}
        ok = True
        for name, check in checks.items():
            try:
                outcome = check()
                # A check may describe a degraded but still ready state by returning a string.
                results[name] = outcome if isinstance(outcome, str) else "ok"
            except Exception as exc:  # a readiness probe reports every failure, whatever its type
                ok = False
                results[name] = f"failed: {type(exc).__name__}"
        body = {"status": "ready" if ok else "not_ready", "checks": results}
        return jsonify(body), 200 if ok else 503

    @app.get("/metrics")
    def metrics_endpoint() -> Response:
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type)

    return app


def deadline() -> Deadline:
    """The current request's deadline."""
    return g.deadline
