"""Reading what reached Jaeger and VictoriaLogs: traces by payment, the checks a well-formed trace
passes, the log lines of a trace in the services' own log files."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from obsctl.run.stack.jaeger import Jaeger, Span


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def route_template(route: str) -> str:
    """Flask's `<name>` as the `{name}` the semantic conventions (and our metrics) use."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", route)


def is_server_span(span: Span, service: str, route: str, payment_id: str) -> bool:
    return (
        span.service == service
        and span.kind == "server"
        and route_template(str(span.attributes.get("http.route"))) == route
        and span.attributes.get("payment.id") == payment_id
    )


def server_span(spans: Iterable[Span], service: str, route: str, payment_id: str) -> Span | None:
    return next((s for s in spans if is_server_span(s, service, route, payment_id)), None)


def payment_traces(jaeger: Jaeger, service: str, route: str, payment_id: str) -> dict[str, list[Span]]:
    """Every trace in Jaeger with a server span of `service` for `route` about the payment, by id:
    found the way a person would, by searching the payment id."""
    found = {}
    for trace_id in jaeger.find_trace_ids(service, tags={"payment.id": payment_id}, limit=50):
        spans = jaeger.trace(trace_id)
        if server_span(spans, service, route, payment_id) is not None:
            found[trace_id] = spans
    return found


def services_with(spans: Iterable[Span], kind: str) -> set[str]:
    return {s.service for s in spans if s.kind == kind}


def assert_well_linked(spans: list[Span]) -> None:
    """One root (the gateway's server span); every parent present; a server span's parent is a
    client span of another service; a consumer span's parent is a producer span."""
    by_id = {s.span_id: s for s in spans}
    assert len(by_id) == len(spans), "span ids repeat within the trace"
    roots = [s for s in spans if not s.parent_span_id]
    assert [(r.service, r.kind) for r in roots] == [("gateway", "server")], roots
    for span in spans:
        if not span.parent_span_id:
            continue
        parent = by_id.get(span.parent_span_id)
        assert parent is not None, (
            f"{span.service} {span.name}: parent {span.parent_span_id} not in the trace"
        )
        if span.kind == "server":
            assert parent.kind == "client" and parent.service != span.service, (span, parent)
        if span.kind == "consumer":
            assert parent.kind == "producer" and parent.service == "payment", (span, parent)
        if span.kind == "client":
            assert parent.service == span.service, (span, parent)


def log_line(raw: str) -> dict[str, Any]:
    """One line of a service's log file: its JSON fields, or {"message": raw} for a plain line."""
    try:
        parsed = json.loads(raw) if raw.startswith("{") else None
    except json.JSONDecodeError:
        parsed = None
    return parsed if isinstance(parsed, dict) else {"message": raw}


def file_lines(log: Path) -> list[dict[str, Any]]:
    """The JSON lines a service wrote to its log file (its stderr)."""
    return [log_line(raw) for raw in log.read_text().splitlines() if raw.startswith("{")]


def strings_in(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings_in(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings_in(v)
    elif value is not None:
        yield str(value)
