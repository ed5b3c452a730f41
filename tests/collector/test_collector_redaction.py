"""Redaction proven on data by the real collector: collector/local.yaml runs (ports and backends
from its ${env:...} placeholders) and exports to a second collector that writes what it receives to
files; spans, span events and log records carrying every sensitive attribute our services could
emit must arrive redacted exactly as observability/collector.yaml's rules say, and the harmless
attributes (payment id, status, route, ...) unchanged. The kubernetes config carries the same
transform processor (asserted below), and tests/collector/test_collector_sampling.py runs it too.

The attribute list comes from what the services handle (the gateway's X-Api-Key, X-Signature,
Idempotency-Key headers, card data in payment_method/description, user emails) and from the
OpenTelemetry semantic conventions for HTTP (http.request.header.<name>, url.full, url.query,
the older http.url/http.target) and databases (db.query.text, the older db.statement).
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from obsctl import paths

from . import running

CARD = "4111111111111111"
CARD_SPACED = "5500 0000 0000 0004"
CARD_DASHED = "3782-822463-10005"  # Amex, 15 digits
CVV = "737"
API_KEY = "pk_live_Zx81QwErTy"
SIGNATURE = "9f2c4a7b1e0d83c5a6f7e8d9c0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9"
SECRET = "whsec_Mn3PqRsTuV"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
PASSWORD = "hunter2-Pa55"
EMAIL = "alice.merchant+test@example.com"
EMAIL_2 = "bob@shop.example.org"

SECRETS = [CARD, CARD_SPACED, CARD_DASHED, API_KEY, SIGNATURE, SECRET, TOKEN, PASSWORD, EMAIL, EMAIL_2]


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# What a payment request could leave on the gateway's server span (zero-code Flask/requests
# instrumentation with header capture on, plus business attributes set through the API).
SENSITIVE_SPAN_ATTRIBUTES: dict[str, Any] = {
    # headers (semantic conventions: lowercase name, value is a string array)
    "http.request.header.x-api-key": [API_KEY],
    "http.request.header.x-signature": [SIGNATURE],
    "http.request.header.authorization": [f"Bearer {TOKEN}"],
    "http.request.header.cookie": [f"session={TOKEN}"],
    "http.response.header.set-cookie": [f"session={TOKEN}; HttpOnly"],
    "http.request.header.x-webhook-secret": [SECRET],
    # card data
    "payment.card.number": CARD,
    "payment.card_number": CARD_SPACED,
    "card.pan": CARD_DASHED,
    "payment.card.cvv": CVV,
    "card_cvc": CVV,
    "payment.card.security_code": CVV,
    # keys, secrets, passwords by attribute name
    "merchant.api_key": API_KEY,
    "merchant.apiKey": API_KEY,
    "merchant.secret": SECRET,
    "webhook.signing_secret": SECRET,
    "request.signature": SIGNATURE,
    "db.password": PASSWORD,
    "oauth.access_token": TOKEN,
    # emails
    "user.email": EMAIL,
    "enduser.email": EMAIL_2,
    # URLs with credentials and card data in the query string
    "url.full": f"https://gw.example.com/api/v1/payments?api_key={API_KEY}&signature={SIGNATURE}&email={EMAIL}",
    "url.query": f"token={TOKEN}&card={CARD}&cvv={CVV}",
    "http.url": f"http://payment:8000/internal/charge?access_token={TOKEN}&pan={CARD}",
    "http.target": f"/api/v1/payments?apikey={API_KEY}&password={PASSWORD}",
    # database statements with literal values
    "db.query.text": f"SELECT id FROM users WHERE email = '{EMAIL}' AND card_number = '{CARD}'",
    "db.statement": f"UPDATE merchants SET api_key = '{API_KEY}', secret='{SECRET}' WHERE id = 7",
    # free text a merchant controls
    "payment.description": f"Order for {EMAIL_2}, card {CARD_SPACED}, cvv={CVV}",
    "payment.payment_method": f"card:{CARD}",
}

# Attributes that carry nothing sensitive and must arrive unchanged.
HARMLESS_SPAN_ATTRIBUTES: dict[str, Any] = {
    "http.request.method": "POST",
    "http.route": "/api/v1/payments/{payment_id}/refunds",
    "url.path": "/api/v1/payments/pay_01HZX3/refunds",
    "url.scheme": "https",
    "http.response.status_code": 402,
    "http.request.header.idempotency-key": ["3f6c1d2e-9a8b-4c7d-8e6f-5a4b3c2d1e0f"],
    "http.request.header.x-timestamp": ["1732245600"],
    "http.request.header.content-type": ["application/json"],
    "http.request.header.x-request-id": ["req-7c9e6679"],
    "server.address": "gateway",
    "server.port": 8000,
    "client.address": "10.42.0.17",
    "user_agent.original": "payment-load/1.0",
    "db.system": "postgresql",
    "db.system.name": "postgresql",
    "db.operation.name": "SELECT",
    "db.collection.name": "payments",
    "db.query.text.safe": "SELECT status FROM payments WHERE id = %s",
    "messaging.system": "kafka",
    "messaging.destination.name": "payments.events",
    "messaging.kafka.message.key": "pay_01HZX3",
    "payment.id": "pay_01HZX3",
    "payment.amount_minor": 125000,
    "payment.currency": "EUR",
    "payment.status": "failed",
    "payment.decline_reason": "insufficient_funds",
    "risk.decision": "approve",
    "risk.score": 0.12,
    # set by the services themselves (apps/gateway/routes.py, apps/notification/consumer.py)
    "merchant.id": "m_42",
    "payment.event_type": "payment.succeeded",
    "notification.result": "sent",
    "user.id": "u_1001",
    "deadline.remaining_ms": 4870,
    "payment.card.last4": "1111",
    "payment.card.brand": "visa",
    "trace.sampled": True,
}


BEARER = f"Bearer {TOKEN}"

EVENT_ATTRIBUTES: dict[str, Any] = {
    "exception.type": "ChannelDeclined",
    "exception.message": f"card {CARD} declined for {EMAIL}; Authorization: {BEARER}",
    "exception.stacktrace": f'File "charge.py", line 12\n  pan="{CARD}" cvv="{CVV}"',
    "payment.card.cvv": CVV,
}

LOG_BODIES = [
    f"payment failed for {EMAIL}: card {CARD} declined",
    f'request body {{"card_number": "{CARD}", "cvv": "{CVV}", "email": "{EMAIL_2}"}}',
    f"headers: X-Api-Key={API_KEY} X-Signature={SIGNATURE} Authorization: Basic {TOKEN}",
    f"connecting with password={PASSWORD} secret: {SECRET}",
    f"calling the provider with Authorization: {BEARER} api_key={API_KEY} cvv={CVV}",
]
MAP_BODY = {"event": "payment.created", "amount_minor": 100}


@dataclass
class Arrived:
    """What the backend received from the collector running collector/local.yaml."""

    span: dict[str, Any]
    logs: dict[int, dict[str, Any]]  # by the record's test.case attribute
    map_body_log: dict[str, Any]


def _send_and_collect(
    collector: running.Collector, http_port: int, sink: running.Sink, service: str
) -> Arrived:
    trace_id, span_id = running.new_trace_id(), running.new_span_id()
    span = running.span(
        trace_id,
        "POST /api/v1/payments",
        span_id=span_id,
        start_ns=time.time_ns(),
        duration_ms=12,
        error=True,
        attrs={**SENSITIVE_SPAN_ATTRIBUTES, **HARMLESS_SPAN_ATTRIBUTES},
        events=[{"name": "exception", "attributes": EVENT_ATTRIBUTES}],
    )
    base = f"http://127.0.0.1:{http_port}"
    running.post(f"{base}/v1/traces", running.traces_request(service, [span]))
    attrs = {**SENSITIVE_SPAN_ATTRIBUTES, **HARMLESS_SPAN_ATTRIBUTES}
    records = [
        running.log_record(body, {**attrs, "test.case": i}, trace_id, span_id)
        for i, body in enumerate(LOG_BODIES)
    ]
    records.append(running.log_record(MAP_BODY, {**attrs, "test.case": -1}, trace_id, span_id))
    running.post(f"{base}/v1/logs", running.logs_request(service, records))

    def spans() -> list[dict[str, Any]]:
        return [s for s in sink.spans() if s["service"] == service]

    def logs() -> list[dict[str, Any]]:
        found = [r for r in sink.log_records() if r["service"] == service]
        return found if len(found) == len(records) else []

    (arrived_span,) = running.wait_for(f"the span through {collector.name}", spans)
    arrived_logs = running.wait_for(f"{len(records)} log records through {collector.name}", logs)
    by_case = {r["attributes"]["test.case"]: r for r in arrived_logs}
    return Arrived(
        span=arrived_span, logs={i: by_case[i] for i in range(len(LOG_BODIES))}, map_body_log=by_case[-1]
    )


def _local_env(ports: list[int], sink: running.Sink) -> dict[str, str]:
    grpc, http, spans, own, health = ports
    return {
        "OTELCOL_OTLP_GRPC_PORT": str(grpc),
        "OTELCOL_OTLP_HTTP_PORT": str(http),
        "OTELCOL_SPANMETRICS_PORT": str(spans),
        "OTELCOL_SELF_METRICS_PORT": str(own),
        "OTELCOL_HEALTH_PORT": str(health),
        "OTLP_TRACES_ENDPOINT": sink.traces_url,
        "OTLP_LOGS_ENDPOINT": sink.logs_url,
    }


@pytest.fixture(scope="module")
def backend(otelcol: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[running.Sink]:
    with running.sink(otelcol, tmp_path_factory.mktemp("redaction-sink")) as sink:
        yield sink


def _run_local(
    otelcol: Path, config: Path | dict[str, Any], workdir: Path, sink: running.Sink, service: str
) -> Arrived:
    ports = running.free_ports(5)
    env = _local_env(ports, sink)
    with running.running(otelcol, "local", config, workdir, env, ports[4], tuple(ports[:4])) as collector:
        return _send_and_collect(collector, ports[1], sink, service)


@pytest.fixture(scope="module")
def arrived(otelcol: Path, backend: running.Sink, tmp_path_factory: pytest.TempPathFactory) -> Arrived:
    """One run of the committed collector/local.yaml, unchanged."""
    config = paths.COLLECTOR / "local.yaml"
    return _run_local(otelcol, config, tmp_path_factory.mktemp("redaction-local"), backend, "redaction-local")


def test_both_environments_carry_the_same_redaction(configs: dict) -> None:
    assert (
        configs["local"]["processors"]["transform/redact"]
        == configs["kubernetes"]["processors"]["transform/redact"]
    )
    for config in configs.values():
        for name, pipeline in config["service"]["pipelines"].items():
            if name in ("traces", "logs"):
                assert "transform/redact" in pipeline["processors"], name


def _assert_nothing_sensitive(attributes: dict[str, Any], *texts: str) -> None:
    dumped = json.dumps(attributes) + "".join(texts)
    for secret in SECRETS:
        assert secret not in dumped, f"{secret!r} survived: {dumped}"
    # The CVV is three digits, so look for it only where a key could carry it.
    for key, value in attributes.items():
        if "cvv" in key.lower() or "cvc" in key.lower() or "security_code" in key.lower():
            pytest.fail(f"{key}={value!r} survived")
    for text in [*texts, *(v for v in attributes.values() if isinstance(v, str))]:
        assert f"cvv={CVV}" not in text and f'"cvv": "{CVV}"' not in text and f'cvv="{CVV}"' not in text, text
    for unmasked in ("41111111", "55000000", "5500 0000", "3782-8224"):
        assert unmasked not in dumped, unmasked


def test_spans_lose_every_sensitive_value(arrived: Arrived) -> None:
    _assert_nothing_sensitive(arrived.span["attributes"])
    (event,) = arrived.span["events"]
    _assert_nothing_sensitive(event["attributes"])


def test_spans_keep_what_is_useful(arrived: Arrived) -> None:
    attrs = arrived.span["attributes"]
    for key, value in HARMLESS_SPAN_ATTRIBUTES.items():
        assert attrs.get(key) == value, key
    assert (attrs["payment.id"], attrs["payment.status"], attrs["http.route"]) == (
        "pay_01HZX3",
        "failed",
        "/api/v1/payments/{payment_id}/refunds",
    )
    assert arrived.span["name"] == "POST /api/v1/payments" and arrived.span["status"]["code"] == 2
    # card numbers keep their last four digits, emails become a stable hash
    assert attrs["payment.card.number"] == "****1111"
    assert attrs["payment.card_number"] == "****0004"
    assert attrs["card.pan"] == "****0005"
    assert attrs["user.email"] == sha(EMAIL)
    assert attrs["enduser.email"] == sha(EMAIL_2)
    assert attrs["payment.payment_method"] == "card:****1111"
    # URLs and statements keep their shape, only the values go
    assert attrs["url.full"] == (
        f"https://gw.example.com/api/v1/payments?api_key=[REDACTED]&signature=[REDACTED]&email={sha(EMAIL)}"
    )
    assert attrs["url.query"] == "token=[REDACTED]&card=****1111&cvv=[REDACTED]"
    assert attrs["db.query.text"] == (
        f"SELECT id FROM users WHERE email = '{sha(EMAIL)}' AND card_number = '****1111'"
    )
    assert attrs["db.statement"].startswith("UPDATE merchants SET api_key = '[REDACTED]")
    assert attrs["payment.description"] == f"Order for {sha(EMAIL_2)}, card ****0004, cvv=[REDACTED]"
    # keys of credentials are deleted outright, whatever their value type (header values are arrays)
    for gone in (
        "http.request.header.x-api-key",
        "http.request.header.x-signature",
        "http.request.header.authorization",
        "http.request.header.cookie",
        "payment.card.cvv",
        "card_cvc",
        "merchant.api_key",
        "oauth.access_token",
    ):
        assert gone not in attrs, gone


def test_span_events_are_redacted_too(arrived: Arrived) -> None:
    (event,) = arrived.span["events"]
    attrs = event["attributes"]
    assert event["name"] == "exception"
    assert attrs["exception.type"] == "ChannelDeclined"
    assert (
        attrs["exception.message"]
        == f"card ****1111 declined for {sha(EMAIL)}; Authorization: Bearer [REDACTED]"
    )
    assert attrs["exception.stacktrace"] == 'File "charge.py", line 12\n  pan="****1111" cvv="[REDACTED]"'
    assert "payment.card.cvv" not in attrs


@pytest.mark.parametrize("case", range(len(LOG_BODIES)))
def test_log_records_lose_every_sensitive_value(arrived: Arrived, case: int) -> None:
    record = arrived.logs[case]
    body = running.plain(record["body"])
    _assert_nothing_sensitive(record["attributes"], body)
    for key, value in HARMLESS_SPAN_ATTRIBUTES.items():
        assert record["attributes"].get(key) == value, key


def test_log_bodies_keep_their_message(arrived: Arrived) -> None:
    bodies = [running.plain(arrived.logs[i]["body"]) for i in range(len(LOG_BODIES))]
    assert bodies[0] == f"payment failed for {sha(EMAIL)}: card ****1111 declined"
    assert (
        bodies[1]
        == f'request body {{"card_number": "****1111", "cvv": "[REDACTED]", "email": "{sha(EMAIL_2)}"}}'
    )
    assert bodies[2] == "headers: X-Api-Key=[REDACTED] X-Signature=[REDACTED] Authorization: Basic [REDACTED]"
    assert bodies[3] == "connecting with password=[REDACTED] secret: [REDACTED]"
    assert (
        bodies[4]
        == "calling the provider with Authorization: Bearer [REDACTED] api_key=[REDACTED] cvv=[REDACTED]"
    )


def test_logs_keep_their_trace_context(arrived: Arrived) -> None:
    for record in [*arrived.logs.values(), arrived.map_body_log]:
        assert (record["traceId"], record["spanId"]) == (arrived.span["traceId"], arrived.span["spanId"])


def test_a_structured_log_body_is_left_alone_not_dropped(arrived: Arrived) -> None:
    """A map body is no string: the body statements skip it (error_mode: ignore), the attributes
    are still redacted."""
    record = arrived.map_body_log
    assert running.plain(record["body"]) == MAP_BODY
    _assert_nothing_sensitive(record["attributes"])


def test_a_weakened_rule_lets_card_numbers_through(
    otelcol: Path, backend: running.Sink, tmp_path_factory: pytest.TempPathFactory, local: dict
) -> None:
    """The proof depends on the rendered rules: without the card-number statements the real
    collector passes the card number on."""
    weakened = copy.deepcopy(local)
    transform = weakened["processors"]["transform/redact"]
    for group in transform["trace_statements"] + transform["log_statements"]:
        group["statements"] = [s for s in group["statements"] if "{9,15}" not in s]
    workdir = tmp_path_factory.mktemp("redaction-weakened")
    out = _run_local(otelcol, weakened, workdir, backend, "redaction-weakened")
    assert out.span["attributes"]["payment.card.number"] == CARD
    assert running.plain(out.logs[0]["body"]) == f"payment failed for {sha(EMAIL)}: card {CARD} declined"
