"""The whole stack under opentelemetry-instrument, through the generated collector config into
Jaeger and VictoriaLogs: one connected trace per payment, across every service, PostgreSQL, Redis
and Kafka, read back from Jaeger's API; the log lines of each trace from the logs backend, as the
services wrote them; no secrets anywhere in what the backends hold.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

import catalog
from obsctl.run.stack.jaeger import Span
from tests.telemetry.stack_harness import TelemetryStack
from tests.telemetry.traces import (
    assert_well_linked,
    file_lines,
    log_line,
    payment_traces,
    server_span,
    services_with,
    strings_in,
    wait_for,
)

CARD_LIKE = "4111 1111 1111 1111"
PAYMENT_ROUTE = "/v1/payments"
REFUND_ROUTE = "/v1/payments/{payment_id}/refunds"
SERVICES = tuple(catalog.default().services)
# The line each service on a payment's path writes for it: its message, and fields it carries
# (VictoriaLogs holds every field as a string).
PAYMENT_LINES: dict[str, dict[str, tuple[str, dict[str, str]]]] = {
    "succeeded": {
        "gateway": ("payment answered", {"payment.status": "succeeded", "http.status_code": "201"}),
        "payment": ("payment succeeded", {"payment.status": "succeeded", "payment.state": "succeeded"}),
        "risk": ("risk decision: approve", {"risk.decision": "approve", "risk.mode": "normal"}),
        "account": ("ledger debit booked", {"ledger.operation": "debit", "ledger.result": "applied"}),
        "channel": ("charge approved", {"channel.outcome": "approved", "channel.name": "card"}),
        "notification": ("notification recorded", {"payment.event_type": "payment.succeeded"}),
    },
    "declined": {
        "gateway": (
            "payment answered",
            {
                "payment.status": "failed",
                "payment.failure_reason": "insufficient_funds",
                "http.status_code": "402",
            },
        ),
        "payment": (
            "payment failed",
            {"payment.status": "failed", "payment.failure_reason": "insufficient_funds"},
        ),
        "risk": ("risk decision: approve", {"risk.decision": "approve"}),
        "account": (
            "ledger debit refused",
            {"ledger.operation": "debit", "ledger.result": "insufficient_funds"},
        ),
        "notification": ("notification recorded", {"payment.event_type": "payment.failed"}),
    },
}


@dataclass
class Traffic:
    succeeded: str
    declined: str
    refund_of: str
    user: str
    request_id: str
    signatures: list[str]
    traces: dict[str, list[Span]]  # "succeeded", "declined", "refund": the complete trace


def complete_trace(running: TelemetryStack, route: str, payment_id: str) -> list[Span] | None:
    """The one trace of the request in Jaeger, once the notification consumer's span is in it."""
    found = payment_traces(running.jaeger, "payment", route, payment_id)
    for spans in found.values():
        if any(s.service == "notification" and s.name == "notification record" for s in spans):
            return spans
    return None


@pytest.fixture(scope="module")
def traffic(telemetry_stack: TelemetryStack) -> Traffic:
    running = telemetry_stack
    user = running.users[0]
    signatures: list[str] = []
    request_id = f"req-{uuid.uuid4().hex}"
    ok = running.signed(
        "POST",
        "/api/v1/payments",
        {
            "user_id": user,
            "amount": 1250,
            "currency": "EUR",
            "payment_method": "card",
            "description": CARD_LIKE,
        },
        extra={"X-Request-Id": request_id},
    )
    assert ok.status_code == 201, ok.text
    signatures.append(ok.request.headers["X-Signature"])
    poor = running.new_user(100)
    declined = running.pay(poor, 5_000)
    assert declined.status_code == 402, declined.text
    signatures.append(declined.request.headers["X-Signature"])
    refunded = running.refund(ok.json()["payment_id"], 500)
    assert refunded.status_code in (200, 201), refunded.text
    signatures.append(refunded.request.headers["X-Signature"])
    # A request whose signature is wrong: the gateway logs the rejection inside the request.
    bad = running.signed("POST", "/api/v1/payments", {"user_id": user}, extra={"X-Signature": "f" * 64})
    assert bad.status_code == 401, bad.text
    signatures.append("f" * 64)
    traces = {}
    for key, route, pid in (
        ("succeeded", PAYMENT_ROUTE, ok.json()["payment_id"]),
        ("declined", PAYMENT_ROUTE, declined.json()["payment_id"]),
        ("refund", REFUND_ROUTE, ok.json()["payment_id"]),
    ):
        traces[key] = wait_for(
            f"the complete trace of {route} {pid} in Jaeger",
            lambda r=route, p=pid: complete_trace(running, r, p),
        )
    return Traffic(
        ok.json()["payment_id"],
        declined.json()["payment_id"],
        ok.json()["payment_id"],
        user,
        request_id,
        signatures,
        traces,
    )


def test_a_successful_payment_is_one_trace_across_every_service(
    traffic: Traffic, telemetry_stack: TelemetryStack
) -> None:
    spans = traffic.traces["succeeded"]
    # Searching Jaeger for the payment's creation finds this one trace, and nothing else.
    creation = payment_traces(telemetry_stack.jaeger, "payment", PAYMENT_ROUTE, traffic.succeeded)
    assert list(creation) == [spans[0].trace_id]
    assert services_with(spans, "server") == set(catalog.default().reachable_from("gateway"))
    db_systems = {s.attributes.get("db.system") for s in spans if s.kind == "client"}
    assert {"postgresql", "redis"} <= db_systems
    producers = [s for s in spans if s.kind == "producer"]
    assert [(p.service, p.attributes.get("messaging.destination")) for p in producers] == [
        ("payment", "payments")
    ]
    consumers = [s for s in spans if s.kind == "consumer"]
    assert consumers and {s.service for s in consumers} == {"notification"}
    recorded = [s for s in spans if s.name == "notification record"]
    assert [(s.attributes["payment.event_type"], s.attributes["notification.result"]) for s in recorded] == [
        ("payment.succeeded", "recorded")
    ]
    # The notification's database insert hangs under the consumer's span.
    assert any(
        s.service == "notification" and s.kind == "client" and s.parent_span_id == recorded[0].span_id
        for s in spans
    )
    assert_well_linked(spans)


def test_a_declined_payment_is_traced_with_its_failure_event(traffic: Traffic) -> None:
    spans = traffic.traces["declined"]
    assert {"gateway", "payment", "risk", "account"} <= services_with(spans, "server")
    payment = server_span(spans, "payment", PAYMENT_ROUTE, traffic.declined)
    assert payment is not None and payment.attributes["payment.status"] == "failed"
    assert payment.attributes["http.status_code"] == 402
    recorded = [s.attributes["payment.event_type"] for s in spans if s.name == "notification record"]
    assert recorded == ["payment.failed"]
    assert_well_linked(spans)


def test_a_refund_is_traced_to_its_notification(traffic: Traffic) -> None:
    spans = traffic.traces["refund"]
    assert {"gateway", "payment"} <= services_with(spans, "server")
    assert [s.service for s in spans if s.kind == "producer"] == ["payment"]
    recorded = [s.attributes["payment.event_type"] for s in spans if s.name == "notification record"]
    assert recorded == ["payment.refunded"]
    assert_well_linked(spans)


def test_baggage_carries_the_user_and_request_id_downstream(traffic: Traffic) -> None:
    # The stack captures the `baggage` request header on server spans for this test (see conftest).
    spans = traffic.traces["succeeded"]
    payment = server_span(spans, "payment", PAYMENT_ROUTE, traffic.succeeded)
    assert payment is not None
    header = " ".join(strings_in(payment.attributes.get("http.request.header.baggage")))
    items = dict(part.strip().split("=", 1) for part in header.split(",") if "=" in part)
    assert items.get("user_id") == traffic.user
    assert items.get("request_id") == traffic.request_id
    downstream = [s for s in spans if s.service in ("risk", "account", "channel") and s.kind == "server"]
    assert downstream and all(
        "user_id=" in " ".join(strings_in(s.attributes.get("http.request.header.baggage")))
        for s in downstream
    )


def test_the_logs_backend_has_each_traces_log_lines_as_the_services_wrote_them(
    traffic: Traffic, telemetry_stack: TelemetryStack
) -> None:
    """For every trace of the traffic, VictoriaLogs returns (by trace id) exactly the lines the
    services wrote to their own logs inside that trace: each once, from the service that wrote it."""
    written = {s: file_lines(telemetry_stack.log_path(s)) for s in SERVICES}
    rejected = [line for line in written["gateway"] if line.get("message") == "authentication failed"]
    assert rejected, "the gateway logged no rejection"
    trace_ids = {spans[0].trace_id for spans in traffic.traces.values()} | {
        line["trace_id"] for line in rejected
    }

    def in_files(trace_id: str) -> Counter[tuple[str, str]]:
        return Counter(
            (service, str(line.get("message")))
            for service, lines in written.items()
            for line in lines
            if line.get("trace_id") == trace_id
        )

    def in_backend(trace_id: str) -> Counter[tuple[str, str]]:
        entries = telemetry_stack.logs.trace_logs(trace_id)
        return Counter((str(e.get("service.name")), str(e.get("_msg"))) for e in entries)

    expected = {trace_id: in_files(trace_id) for trace_id in trace_ids}
    assert sum(sum(c.values()) for c in expected.values()) >= len(rejected)
    wait_for(
        "every trace's log lines in VictoriaLogs",
        lambda: all(in_backend(t) == expected[t] for t in trace_ids),
        timeout=30,
    )
    for line in rejected:  # written inside a request: the backend has its span id too
        [entry] = telemetry_stack.logs.trace_logs(line["trace_id"])
        assert entry["span_id"] == line["span_id"]
        assert entry["service.name"] == "gateway" and entry["scope.name"] == "apps.gateway.auth"
        assert telemetry_stack.jaeger.trace(line["trace_id"]), "the rejected request's trace is not in Jaeger"


def test_every_service_on_a_payments_path_logs_it_and_the_backend_finds_the_lines_by_trace_id(
    traffic: Traffic, telemetry_stack: TelemetryStack
) -> None:
    """For one payment's trace id, VictoriaLogs returns a line from each service the payment passed
    through (every service with a server or consumer span in the trace), written inside that
    service's span,
    naming the payment with its status and reason; none of them carries the card-like
    description, the API key, the secret or the signature."""
    forbidden = [CARD_LIKE, CARD_LIKE.replace(" ", ""), telemetry_stack.api_key, telemetry_stack.api_secret]
    forbidden += traffic.signatures
    for key, payment_id in (("succeeded", traffic.succeeded), ("declined", traffic.declined)):
        spans = traffic.traces[key]
        trace_id = spans[0].trace_id
        expected = PAYMENT_LINES[key]
        assert set(expected) == services_with(spans, "server") | services_with(spans, "consumer"), (
            f"{key}: the path is not what the test expects"
        )

        def lines(
            expected: dict[str, tuple[str, dict[str, str]]] = expected, trace_id: str = trace_id
        ) -> Any:
            entries = telemetry_stack.logs.trace_logs(trace_id)
            found = {
                s: [e for e in entries if (e.get("service.name"), e.get("_msg")) == (s, m)]
                for s, (m, _) in expected.items()
            }
            return (entries, found) if all(found.values()) else None

        entries, found = wait_for(
            f"the {key} payment's log line from every service in VictoriaLogs", lines, timeout=30
        )
        for service, (message, fields) in expected.items():
            [entry] = found[service]
            assert entry["payment.id"] == payment_id, (service, entry)
            assert {k: entry.get(k) for k in fields} == fields, (service, message, entry)
            assert entry["severity_text"] == "INFO", (service, entry)
            own_spans = {s.span_id for s in spans if s.service == service}
            assert entry["span_id"] in own_spans, (
                f"{service}: {message!r} was not written inside its own span"
            )
        # What the payment service logged agrees with what its span says.
        payment_span = server_span(spans, "payment", PAYMENT_ROUTE, payment_id)
        assert payment_span is not None
        [payment_line] = found["payment"]
        for attribute in ("payment.status", "payment.failure_reason"):
            assert payment_line.get(attribute) == (
                None if attribute not in payment_span.attributes else str(payment_span.attributes[attribute])
            ), attribute
        text = [value for entry in entries for value in strings_in(entry)]
        for secret in forbidden:
            assert not [v for v in text if secret in v], f"{secret[:6]}... in the {key} payment's log lines"


def test_the_agent_starts_cleanly_in_every_service(traffic: Traffic, telemetry_stack: TelemetryStack) -> None:
    """With a collector listening, the OpenTelemetry agent has nothing to warn about: no deprecated
    setting, no log handler skipped as a duplicate, no failed export. Its warnings go to whichever
    handler the root logger has when it starts: the service's log file or the OTLP export."""
    quiet = {"", "TRACE", "DEBUG", "INFO"}
    exported = [
        e
        for e in telemetry_stack.logs.query("*", limit=100_000)
        if str(e.get("scope.name", "")).startswith("opentelemetry")
        and e.get("severity_text", "") not in quiet
    ]
    assert not exported, (
        f"the agent warned over OTLP: {[(e['service.name'], e['_msg']) for e in exported[:3]]}"
    )
    for service in SERVICES:
        warnings = []
        for raw in telemetry_stack.log_path(service).read_text().splitlines():
            line = log_line(raw)
            from_agent = str(line.get("name", "")).startswith("opentelemetry") or "opentelemetry" in raw
            if from_agent and line.get("level", "WARNING") not in quiet:
                warnings.append(line.get("message"))
        assert not warnings, f"{service}: the agent warned: {warnings[:3]}"


def test_no_secret_card_data_or_signature_in_jaeger_the_logs_backend_or_a_service_log(
    traffic: Traffic, telemetry_stack: TelemetryStack
) -> None:
    forbidden = [
        telemetry_stack.api_key,
        telemetry_stack.api_secret,
        CARD_LIKE,
        CARD_LIKE.replace(" ", ""),
        *traffic.signatures,
    ]
    jaeger = telemetry_stack.jaeger
    stored: list[str] = []
    trace_ids = {t for service in SERVICES for t in jaeger.find_trace_ids(service, limit=1000)}
    for trace_id in trace_ids:
        for span in jaeger.trace(trace_id):
            stored += [span.name, *strings_in(span.attributes), *strings_in(list(span.events))]
    for entry in telemetry_stack.logs.query("*", limit=100_000):
        stored += list(strings_in(entry))
    files = [telemetry_stack.log_path(s).read_text() for s in SERVICES]
    assert len(stored) > 1000  # the check below looked at real telemetry
    for secret in forbidden:
        leaks = [value for value in stored if secret in value]
        assert not leaks, f"{secret[:6]}... found in Jaeger or VictoriaLogs: {leaks[:3]}"
        assert not any(secret in text for text in files), f"{secret[:6]}... found in a service log"
