"""JSON logs on stderr, with trace_id and span_id on every line written inside a span.

Only formatting is set up here; exporting logs over OTLP is the zero-code agent's job
(opentelemetry-instrumentation-logging: OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION / OTEL_LOGS_EXPORTER).
"""

from __future__ import annotations

import logging
import sys

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter


class TraceContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            record.trace_id = format(ctx.trace_id, "032x")
            record.span_id = format(ctx.span_id, "016x")
        return True


def configure(service: str, level: str = "INFO") -> None:
    root = logging.getLogger()
    if any(getattr(h, "_payment_json", False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._payment_json = True  # type: ignore[attr-defined]
    handler.setFormatter(
        JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "asctime": "time"},
            static_fields={"service": service},
        )
    )
    handler.addFilter(TraceContextFilter())
    root.addHandler(handler)
    root.setLevel(level)
    # The SDK's own diagnostics go to stderr only, not through the OTLP log handler on the root
    # logger: with the collector down, each failed export would log a record that queues another
    # export, forever (and stretch a shutdown past gunicorn's graceful timeout).
    sdk_diagnostics = logging.getLogger("opentelemetry")
    sdk_diagnostics.propagate = False
    sdk_diagnostics.addHandler(handler)
