"""The whole stack under opentelemetry-instrument: one connected trace per payment, across every
service, PostgreSQL, Redis and Kafka; logs tied to traces; no secrets anywhere in the telemetry.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

import catalog
from obsctl.run.telemetry.otlp_sink import OtlpSink, Span
from tests.telemetry.stack_harness import TelemetryStack
from tests.telemetry.traces import (
    assert_well_linked,
    server_span,
    services_with,
    strings_in,
    trace_of,
    wait_for,
)

CARD_LIKE = "4111 1111 1111 1111"
PAYMENT_ROUTE = "/v1/payments"
REFUND_ROUTE = "/v1/payments/{payment_id}/refunds"


@dataclass
class Traffic:
    succeeded: str
    declined: str
    refund_of: str
    user: str
    request_id: str
    signatures: list[str]


def complete_trace(sink: OtlpSink, route: str, payment_id: str) -> list[Span] | None:
    """The trace of the request, once the notification consumer's span has arrived in it."""
    anchor = server_span(sink, "payment", route, payment_id)
    if anchor is None:
        return None
    spans = trace_of(sink, anchor.trace_id)
    if not any(s.service == "notification" and s.name == "notification record" for s in spans):
        return None
    return spans


@pytest.fixture(scope="module")
def traffic(telemetry_stack: TelemetryStack, otlp_sink: OtlpSink) -> Traffic:
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
    traffic = Traffic(
        ok.json()["payment_id"],
        declined.json()["payment_id"],
        ok.json()["payment_id"],
        user,
        request_id,
        signatures,
    )
    for route, pid in (
        (PAYMENT_ROUTE, traffic.succeeded),
        (PAYMENT_ROUTE, traffic.declined),
        (REFUND_ROUTE, traffic.refund_of),
    ):
        wait_for(
            f"the complete trace of {route} {pid}", lambda r=route, p=pid: complete_trace(otlp_sink, r, p)
        )
    return traffic


def test_a_successful_payment_is_one_trace_across_every_service(
    traffic: Traffic, otlp_sink: OtlpSink
) -> None:
    spans = complete_trace(otlp_sink, PAYMENT_ROUTE, traffic.succeeded)
    assert spans is not None
    # Every span about this payment's creation is in this one trace.
    creation = [
        s
        for s in otlp_sink.spans()
        if s.attributes.get("payment.id") == traffic.succeeded
        and s.attributes.get("http.route") == PAYMENT_ROUTE
    ]
    assert {s.trace_id for s in creation} == {spans[0].trace_id}
    assert services_with(spans, "server") == set(catalog.default().reachable_from("gateway"))
    db_systems = {s.attributes.get("db.system") for s in spans if s.kind == "client"}
    assert {"postgresql", "redis"} <= db_systems
    producers = [s for s in spans if s.kind == "producer"]
    assert [(p.service, p.attributes.get("messaging.destination")) for p in producers] == [
        ("payment", "payments")
    ]
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


def test_a_declined_payment_is_traced_with_its_failure_event(traffic: Traffic, otlp_sink: OtlpSink) -> None:
    spans = complete_trace(otlp_sink, PAYMENT_ROUTE, traffic.declined)
    assert spans is not None
    assert {"gateway", "payment", "risk", "account"} <= services_with(spans, "server")
    payment = server_span(otlp_sink, "payment", PAYMENT_ROUTE, traffic.declined)
    assert payment is not None and payment.attributes["payment.status"] == "failed"
    assert payment.attributes["http.status_code"] == 402
    recorded = [s.attributes["payment.event_type"] for s in spans if s.name == "notification record"]
    assert recorded == ["payment.failed"]
    assert_well_linked(spans)


def test_a_refund_is_traced_to_its_notification(traffic: Traffic, otlp_sink: OtlpSink) -> None:
    spans = complete_trace(otlp_sink, REFUND_ROUTE, traffic.refund_of)
    assert spans is not None
    assert {"gateway", "payment"} <= services_with(spans, "server")
    assert [s.service for s in spans if s.kind == "producer"] == ["payment"]
    recorded = [s.attributes["payment.event_type"] for s in spans if s.name == "notification record"]
    assert recorded == ["payment.refunded"]
    assert_well_linked(spans)


def test_baggage_carries_the_user_and_request_id_downstream(traffic: Traffic, otlp_sink: OtlpSink) -> None:
    # The stack captures the `baggage` request header on server spans for this test (see conftest).
    payment = server_span(otlp_sink, "payment", PAYMENT_ROUTE, traffic.succeeded)
    assert payment is not None
    header = " ".join(strings_in(payment.attributes.get("http.request.header.baggage")))
    items = dict(part.strip().split("=", 1) for part in header.split(",") if "=" in part)
    assert items.get("user_id") == traffic.user
    assert items.get("request_id") == traffic.request_id
    downstream = [
        s for s in trace_of(otlp_sink, payment.trace_id) if s.service in ("risk", "account", "channel")
    ]
    assert downstream and all(
        "user_id=" in " ".join(strings_in(s.attributes.get("http.request.header.baggage")))
        for s in downstream
        if s.kind == "server"
    )


def test_logs_carry_the_trace_and_arrive_over_otlp(
    traffic: Traffic, telemetry_stack: TelemetryStack, otlp_sink: OtlpSink
) -> None:
    lines = []
    for raw in telemetry_stack.log_path("gateway").read_text().splitlines():
        if raw.startswith("{"):
            lines.append(json.loads(raw))
    rejected = [line for line in lines if line.get("message") == "authentication failed"]
    assert rejected, "the gateway logged no rejection"
    gateway_traces = {
        s.trace_id: s for s in otlp_sink.spans() if s.service == "gateway" and s.kind == "server"
    }
    for line in rejected:  # written inside a request: each line names its trace and span
        assert re.fullmatch(r"[0-9a-f]{32}", line.get("trace_id", "")), line
        assert re.fullmatch(r"[0-9a-f]{16}", line.get("span_id", "")), line
        assert line["trace_id"] in gateway_traces

    def exported_rejections() -> list[Any] | None:
        found = [r for r in otlp_sink.logs() if r.service == "gateway" and r.body == "authentication failed"]
        return found if len(found) >= len(rejected) else None

    exported = wait_for("the rejections' log records over OTLP", exported_rejections)
    # Once each: one OTLP log handler on the root logger, not the SDK's deprecated one beside it.
    assert sorted(r.trace_id for r in exported) == sorted(line["trace_id"] for line in rejected)
    assert all(r.span_id for r in exported)


def test_the_agent_starts_cleanly_in_every_service(
    traffic: Traffic, telemetry_stack: TelemetryStack, otlp_sink: OtlpSink
) -> None:
    """With a collector listening, the OpenTelemetry agent has nothing to warn about: no deprecated
    setting, no log handler skipped as a duplicate, no failed export. Its warnings go to whichever
    handler the root logger has when it starts: the service's log file or the OTLP export."""
    services = tuple(catalog.default().services)
    quiet = {"", "TRACE", "DEBUG", "INFO"}
    exported = [
        r for r in otlp_sink.logs() if r.scope.startswith("opentelemetry") and r.severity not in quiet
    ]
    assert not exported, f"the agent warned over OTLP: {[(r.service, r.body) for r in exported[:3]]}"
    for service in services:
        warnings = []
        for raw in telemetry_stack.log_path(service).read_text().splitlines():
            line = json.loads(raw) if raw.startswith("{") else {"message": raw}
            from_agent = str(line.get("name", "")).startswith("opentelemetry") or "opentelemetry" in raw
            if from_agent and line.get("level", "WARNING") not in quiet:
                warnings.append(line.get("message"))
        assert not warnings, f"{service}: the agent warned: {warnings[:3]}"


def test_no_secret_card_data_or_signature_in_any_span_baggage_or_log(
    traffic: Traffic, telemetry_stack: TelemetryStack, otlp_sink: OtlpSink
) -> None:
    forbidden = [
        telemetry_stack.api_key,
        telemetry_stack.api_secret,
        CARD_LIKE,
        CARD_LIKE.replace(" ", ""),
        *traffic.signatures,
    ]
    exported: list[str] = []
    for span in otlp_sink.spans():
        exported += [span.name, *strings_in(span.attributes)]
    for record in otlp_sink.logs():
        exported += [*strings_in(record.body), *strings_in(record.attributes)]
    files = [telemetry_stack.log_path(s).read_text() for s in catalog.default().services]
    assert len(exported) > 1000  # the check below looked at real telemetry
    for secret in forbidden:
        leaks = [value for value in exported if secret in value]
        assert not leaks, f"{secret[:6]}... found in exported telemetry: {leaks[:3]}"
        assert not any(secret in text for text in files), f"{secret[:6]}... found in a service log"
