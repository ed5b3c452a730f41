"""collector/local.yaml in front of the real backends of the local stack: a span carrying card
data, a key, a bearer token and an email arrives redacted in Jaeger's query API, and a log line of
the same trace arrives redacted in VictoriaLogs (queried by trace id). The stack's fixtures
(tests/conftest.py: otel_collector, jaeger_server, logs_server) run the committed config with its
ports and endpoints from the ${env:...} placeholders."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from . import running

CARD, CVV, API_KEY, TOKEN, EMAIL = (
    "4111111111111111",
    "737",
    "pk_live_Zx81QwErTy",
    "eyJhbGciOi.eyJzdWIi.c2ln",
    "alice@example.com",
)
SERVICE = "collector-backends-test"


def _sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_redacted_span_in_jaeger_and_redacted_log_in_victorialogs(
    otel_collector: Any, jaeger_server: Any, logs_server: Any
) -> None:
    collector = otel_collector()
    # The fixture's readiness check can pass before the OTLP/HTTP receiver has bound its port.
    running.wait_for(
        "the collector's OTLP/HTTP port", lambda: running.listening_hosts(collector.port), timeout=30
    )
    trace_id, span_id = running.new_trace_id(), running.new_span_id()
    span = running.span(
        trace_id,
        "POST /api/v1/payments",
        span_id=span_id,
        start_ns=time.time_ns(),
        duration_ms=15,
        error=True,
        attrs={
            "payment.id": "pay_01HZX3",
            "payment.status": "failed",
            "http.route": "/api/v1/payments",
            "payment.card.number": CARD,
            "payment.card.cvv": CVV,
            "http.request.header.x-api-key": [API_KEY],
            "user.email": EMAIL,
        },
        events=[
            {
                "name": "exception",
                "attributes": {"exception.message": f"declined; Authorization: Bearer {TOKEN}"},
            }
        ],
    )
    running.post(f"{collector.url}/v1/traces", running.traces_request(SERVICE, [span]))
    body = f"card {CARD} cvv={CVV} api_key={API_KEY} Authorization: Bearer {TOKEN} for {EMAIL}"
    record = running.log_record(
        body, {"payment.id": "pay_01HZX3", "payment.status": "failed"}, trace_id, span_id
    )
    running.post(f"{collector.url}/v1/logs", running.logs_request(SERVICE, [record]))

    (stored,) = running.wait_for("the span in Jaeger", lambda: jaeger_server.trace(trace_id), timeout=60)
    assert stored.service == SERVICE and stored.span_id == span_id
    assert stored.attributes["payment.card.number"] == "****1111"
    assert stored.attributes["user.email"] == _sha(EMAIL)
    for gone in ("payment.card.cvv", "http.request.header.x-api-key"):
        assert gone not in stored.attributes
    assert (
        stored.attributes["payment.id"],
        stored.attributes["payment.status"],
        stored.attributes["http.route"],
    ) == ("pay_01HZX3", "failed", "/api/v1/payments")
    (event,) = stored.events
    assert event["exception.message"] == "declined; Authorization: Bearer [REDACTED]"

    (entry,) = running.wait_for(
        "the log line in VictoriaLogs", lambda: logs_server.trace_logs(trace_id), timeout=60
    )
    assert entry["_msg"] == (
        f"card ****1111 cvv=[REDACTED] api_key=[REDACTED] Authorization: Bearer [REDACTED] for {_sha(EMAIL)}"
    )
    assert entry["payment.id"] == "pay_01HZX3" and entry["payment.status"] == "failed"
    for secret in (CARD, API_KEY, TOKEN, EMAIL):
        assert secret not in str(entry) and secret not in str(stored)
