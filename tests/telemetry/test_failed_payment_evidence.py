"""The demo's evidence on the instrumented stack: with the provider failing (the demo's fault,
channel-errors), one payment fails; the demo's search finds its trace in Jaeger by status code
(the memory store cannot search the error flag), and what `make demo` prints for it names the
trace, the payment and a log line from every service on its path, fetched from VictoriaLogs by
trace id."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from rich.console import Console

from obsctl.run import demo, faults
from obsctl.run.stack.jaeger import Span
from tests.telemetry.stack_harness import TelemetryStack
from tests.telemetry.traces import payment_traces, services_with, wait_for

PAYMENT_ROUTE = "/v1/payments"
# What each service on a failed payment's path logs for it (the provider failed after the debit,
# so the debit is credited back).
FAILED_PAYMENT_LINES = {
    "gateway": ["payment answered"],
    "payment": ["payment compensating: crediting the debit back", "payment failed"],
    "risk": ["risk decision: approve"],
    "account": ["ledger debit booked", "ledger credit booked"],
    "channel": ["charge error"],
    "notification": ["notification recorded"],
}


@dataclass
class Failed:
    payment_id: str
    trace_id: str
    spans: list[Span]
    since: float
    until: float


@pytest.fixture(scope="module")
def failed(telemetry_stack: TelemetryStack) -> Iterator[Failed]:
    running = telemetry_stack
    since = time.time() - 1
    faults.set_fault(running.stack, demo.FAULT, "on")
    try:
        answer = running.pay(running.users[1], 700, description="4111 1111 1111 1111")
    finally:
        faults.clear(running.stack)
    assert answer.status_code == 503, answer.text
    payment_id = answer.json()["error"]["payment"]["payment_id"]

    def complete() -> tuple[str, list[Span]] | None:
        for trace_id, spans in payment_traces(running.jaeger, "payment", PAYMENT_ROUTE, payment_id).items():
            # Complete once the notification consumer's span is in it (the last to arrive).
            if "notification" in services_with(spans, "consumer"):
                return trace_id, spans
        return None

    trace_id, spans = wait_for(f"the failed payment {payment_id}'s trace in Jaeger", complete)
    yield Failed(payment_id, trace_id, spans, since, time.time() + 1)


def test_the_demos_search_finds_the_failed_payment_by_status_code(
    failed: Failed, telemetry_stack: TelemetryStack
) -> None:
    found = demo._failed_payments(telemetry_stack.jaeger, failed.since, failed.until)
    assert failed.trace_id in {str(t["traceID"]) for t in found}
    # Every trace found failed at the gateway (its server span has the error flag).
    assert found and all(demo._failed_at_the_gateway(t) for t in found)


def test_the_demo_prints_the_failed_payments_log_lines_from_every_service(
    failed: Failed, telemetry_stack: TelemetryStack
) -> None:
    assert set(FAILED_PAYMENT_LINES) == services_with(failed.spans, "server") | services_with(
        failed.spans, "consumer"
    )
    logs = telemetry_stack.logs

    def every_line() -> bool:
        have = {(e.get("service.name"), e.get("_msg")) for e in logs.trace_logs(failed.trace_id)}
        return all((s, m) in have for s, messages in FAILED_PAYMENT_LINES.items() for m in messages)

    wait_for("the failed payment's log lines in VictoriaLogs", every_line, timeout=30)
    console = Console(record=True, width=400, color_system=None)
    demo.evidence(console, telemetry_stack.stack, failed.since, failed.until)
    printed = console.export_text()
    assert failed.trace_id in printed and failed.payment_id in printed, printed
    assert "could not fetch" not in printed and "no log lines for this payment" not in printed, printed
    for service, messages in FAILED_PAYMENT_LINES.items():
        for message in messages:
            line = re.compile(
                rf"^\s+{service}\s+\S+ INFO {re.escape(message)} .*payment\.id={failed.payment_id}", re.M
            )
            assert line.search(printed), f"{service}: {message!r} not printed:\n{printed}"
    assert "payment.failure_reason=channel_error" in printed, printed
    assert "payment.event_type=payment.failed" in printed, printed
    assert "4111" not in printed, printed
