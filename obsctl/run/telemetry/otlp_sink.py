"""A minimal OTLP/HTTP receiver: accepts protobuf traces and logs, counts them (or keeps them).

The benchmarks (`obsctl bench payments`, `obsctl bench hop`) export to it, so the services pay
for exporting as they would in production while the receiving end costs next to nothing on the
machine being measured. The tests and the local stack use the real collector, Jaeger and
VictoriaLogs instead (obsctl/run/stack/). Run in-process (`OtlpSink().start()`) or as a process:
`python -m obsctl.run.telemetry.otlp_sink --port N`.
"""

from __future__ import annotations

import argparse
import gzip
import signal
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from obsctl.run.stack.jaeger import Span

SPAN_KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


def _value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return _attributes(v.kvlist_value.values)
    return getattr(v, kind)


def _attributes(kvs: Any) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs if isinstance(kv, KeyValue)}


@dataclass(frozen=True)
class LogRecord:
    trace_id: str
    span_id: str
    service: str
    scope: str  # the instrumentation scope; for Python's logging handler, the logger's name
    severity: str
    body: Any
    attributes: dict[str, Any]


@dataclass
class Received:
    spans: list[Span] = field(default_factory=list)
    logs: list[LogRecord] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def decode_traces(body: bytes) -> list[Span]:
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    out = []
    for rs in request.resource_spans:
        service = str(_attributes(rs.resource.attributes).get("service.name", ""))
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append(
                    Span(
                        trace_id=s.trace_id.hex(),
                        span_id=s.span_id.hex(),
                        parent_span_id=s.parent_span_id.hex(),
                        name=s.name,
                        kind=SPAN_KINDS.get(s.kind, str(s.kind)),
                        service=service,
                        attributes=_attributes(s.attributes),
                        status_code=s.status.code,
                        start_ns=s.start_time_unix_nano,
                        end_ns=s.end_time_unix_nano,
                    )
                )
    return out


def decode_logs(body: bytes) -> list[LogRecord]:
    request = ExportLogsServiceRequest()
    request.ParseFromString(body)
    out = []
    for rl in request.resource_logs:
        service = str(_attributes(rl.resource.attributes).get("service.name", ""))
        for sl in rl.scope_logs:
            for r in sl.log_records:
                out.append(
                    LogRecord(
                        trace_id=r.trace_id.hex(),
                        span_id=r.span_id.hex(),
                        service=service,
                        scope=sl.scope.name,
                        severity=r.severity_text,
                        body=_value(r.body),
                        attributes=_attributes(r.attributes),
                    )
                )
    return out


class OtlpSink:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, keep: bool = True):
        self.received = Received()
        self.keep = keep  # the benchmark only counts; tests keep everything
        sink = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as a collector's OTLP/HTTP receiver: with HTTP/1.0 every export of every
            # service worker opened a new connection, a cost the benchmark added to the services.
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if not sink.keep:
                    # The benchmark's sink only counts: decoding would take CPU from the services
                    # measured on the same machine, which a real collector elsewhere would not.
                    with sink.received.lock:
                        sink.received.requests += 1
                    answer = b""
                elif self.path == "/v1/traces":
                    spans = decode_traces(body)
                    answer = ExportTraceServiceResponse().SerializeToString()
                    with sink.received.lock:
                        sink.received.requests += 1
                        if sink.keep:
                            sink.received.spans.extend(spans)
                elif self.path == "/v1/logs":
                    logs = decode_logs(body)
                    answer = ExportLogsServiceResponse().SerializeToString()
                    with sink.received.lock:
                        sink.received.requests += 1
                        if sink.keep:
                            sink.received.logs.extend(logs)
                else:  # metrics are not exported over OTLP by our services; accept and drop
                    answer = b""
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> OtlpSink:
        self._thread = threading.Thread(target=self.server.serve_forever, name="otlp-sink", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def spans(self) -> list[Span]:
        with self.received.lock:
            return list(self.received.spans)

    def logs(self) -> list[LogRecord]:
        with self.received.lock:
            return list(self.received.logs)


def main() -> None:
    parser = argparse.ArgumentParser(description="A minimal OTLP/HTTP receiver that counts and discards.")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    sink = OtlpSink(port=args.port, keep=False)

    def stop(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        sink.server.serve_forever()
    except KeyboardInterrupt:
        pass
    # The last line of output: how many export requests arrived (the benchmark reads it).
    print(f"otlp-sink requests={sink.received.requests}", flush=True)


if __name__ == "__main__":
    main()
