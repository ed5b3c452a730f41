"""Jaeger v2 (the pinned build of tools/versions.yaml): in-memory trace storage, an OTLP/HTTP
receiver and the query API, each on a free port of 127.0.0.1.

Jaeger v2 is a collector distribution configured by one YAML file; the stack renders it into the
data directory (`CONFIG`): the `otlp` receiver feeds `jaeger_storage_exporter`, which writes into
a `memory` backend of the `jaeger_storage` extension; `jaeger_query` serves it. Its own metrics
(`level: none`) and traces (`enable_tracing: false`) are off, so it takes no default port (8888,
4317) another component or a user's collector may hold. The build from the Go module embeds no
UI: `/` serves Jaeger's placeholder page; the API is there (`/api/v3/traces/{id}` answers OTLP JSON,
`/api/traces?service=...&tags=...` searches).

Traces live as long as the process: a restarted Jaeger is empty.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from obsctl.run.stack import process
from obsctl.run.stack.binaries import tool_binary
from obsctl.run.stack.process import ProcessRecord
from obsctl.run.stack.server import Server
from obsctl.run.stack.wait import StackError, port_open

MAX_TRACES = 100_000

CONFIG = """\
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: {max_traces}
  jaeger_query:
    storage:
      traces: memstore
    # On by default in v2: the query service's own traces would go to localhost:4317, the
    # default OTLP port of whatever collector runs on the machine.
    enable_tracing: false
    http:
      endpoint: 127.0.0.1:{query_port}
    grpc:
      endpoint: 127.0.0.1:{query_grpc_port}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{otlp_port}
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
"""

SPAN_KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS_ERROR = 2


@dataclass(frozen=True)
class Span:
    """One span as Jaeger's API v3 returns it (OTLP JSON), flattened."""

    trace_id: str
    span_id: str
    parent_span_id: str
    name: str
    kind: str
    service: str
    attributes: dict[str, Any]
    status_code: int
    start_ns: int
    end_ns: int
    events: tuple[dict[str, Any], ...] = ()


def otlp_value(value: dict[str, Any]) -> Any:
    """An OTLP JSON AnyValue as a Python value."""
    for kind, raw in value.items():
        if kind == "arrayValue":
            return [otlp_value(v) for v in raw.get("values", [])]
        if kind == "kvlistValue":
            return otlp_attributes(raw.get("values", []))
        if kind == "intValue":
            return int(raw)
        return raw
    return None


def otlp_attributes(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    return {pair["key"]: otlp_value(pair.get("value", {})) for pair in pairs}


def spans_of(body: dict[str, Any]) -> list[Span]:
    """The spans of an API v3 answer ({"result": {"resourceSpans": [...]}})."""
    found = []
    for resource_spans in body.get("result", {}).get("resourceSpans", []):
        resource = otlp_attributes(resource_spans.get("resource", {}).get("attributes", []))
        service = str(resource.get("service.name", ""))
        for scope_spans in resource_spans.get("scopeSpans", []):
            for s in scope_spans.get("spans", []):
                found.append(
                    Span(
                        trace_id=s["traceId"],
                        span_id=s["spanId"],
                        parent_span_id=s.get("parentSpanId", ""),
                        name=s.get("name", ""),
                        kind=SPAN_KINDS.get(int(s.get("kind", 0)), str(s.get("kind"))),
                        service=service,
                        attributes=otlp_attributes(s.get("attributes", [])),
                        status_code=int(s.get("status", {}).get("code", 0)),
                        start_ns=int(s.get("startTimeUnixNano", 0)),
                        end_ns=int(s.get("endTimeUnixNano", 0)),
                        events=tuple(
                            {"name": e.get("name", ""), **otlp_attributes(e.get("attributes", []))}
                            for e in s.get("events", [])
                        ),
                    )
                )
    return found


class Jaeger(Server):
    name = "jaeger"
    start_timeout = 30.0

    @property
    def config_path(self) -> Path:
        return self.data_dir / "jaeger.yaml"

    @property
    def otlp_endpoint(self) -> str:
        """The OTLP/HTTP receiver's base URL (an SDK or an exporter's `endpoint` appends /v1/traces)."""
        return f"http://127.0.0.1:{self.info_port('otlp_http')}"

    @property
    def otlp_traces_url(self) -> str:
        """The full OTLP/HTTP traces URL (an exporter's `traces_endpoint`)."""
        return self.otlp_endpoint + "/v1/traces"

    def env(self) -> dict[str, str]:
        return {"JAEGER_URL": self.url}

    def launch(self, port: int) -> ProcessRecord:
        otlp = self.extra_port("otlp_http", {port})
        grpc = self.extra_port("query_grpc", {port, otlp})
        self.config_path.write_text(
            CONFIG.format(max_traces=MAX_TRACES, query_port=port, query_grpc_port=grpc, otlp_port=otlp)
        )
        argv = [tool_binary("jaeger"), "--config", str(self.config_path)]
        record = process.spawn(self.name, argv, log=self.log_path, cwd=self.data_dir)
        record.info = {"otlp_http": str(otlp), "query_grpc": str(grpc)}
        return record

    def ready(self) -> bool:
        answer = requests.get(f"{self.url}/api/v3/services", timeout=2)
        return answer.status_code == 200 and port_open(self.info_port("otlp_http"))

    # -- the query API ---------------------------------------------------------------------------

    def trace_url(self, trace_id: str) -> str:
        return f"{self.url}/api/v3/traces/{trace_id}"

    def trace(self, trace_id: str) -> list[Span]:
        """Every span of the trace; [] while Jaeger has none of it."""
        answer = requests.get(self.trace_url(trace_id), timeout=10)
        if answer.status_code == 404:
            return []
        answer.raise_for_status()
        return spans_of(answer.json())

    def search(
        self,
        service: str,
        *,
        tags: dict[str, str] | None = None,
        operation: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 20,
    ) -> list[dict[str, Any]]:
        """Traces with a span of `service` (named `operation`, carrying every one of `tags`) that
        started between `since` and `until` (Unix seconds; default the last hour), newest first, in
        the v1 JSON format ({"traceID", "spans": [{"operationName", "tags", ...}], "processes"}).
        Through the v1 API: API v3's search takes no attributes. The memory store compares every tag
        as a string, except `error`, which it reads as a boolean and so never matches "true" from
        the v1 API: search errors by their status code tag (`http.status_code`) instead."""
        until = until or time.time()
        since = since or until - 3600
        params: dict[str, str | int] = {
            "service": service,
            "start": int(since * 1_000_000),
            "end": int(until * 1_000_000),
            "limit": limit,
        }
        if tags:
            params["tags"] = json.dumps(tags)
        if operation:
            params["operation"] = operation
        answer = requests.get(f"{self.url}/api/traces", params=params, timeout=30)
        if answer.status_code != 200:
            raise StackError(f"jaeger /api/traces {params}: HTTP {answer.status_code} {answer.text[:300]}")
        traces: list[dict[str, Any]] = answer.json().get("data") or []
        return sorted(traces, key=lambda t: -max((s["startTime"] for s in t["spans"]), default=0))

    def find_trace_ids(
        self,
        service: str,
        *,
        tags: dict[str, str] | None = None,
        operation: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 20,
    ) -> list[str]:
        """The ids of what search() finds, newest first."""
        found = self.search(service, tags=tags, operation=operation, since=since, until=until, limit=limit)
        return [str(t["traceID"]) for t in found]

    def services(self) -> list[str]:
        answer = requests.get(f"{self.url}/api/v3/services", timeout=10)
        answer.raise_for_status()
        return list(answer.json().get("services") or [])
