"""Sending one span and one log record over OTLP/HTTP with the OpenTelemetry SDK, as a service would."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor


def send_span_and_log(
    *,
    traces_to: str | None = None,
    logs_to: str | None = None,
    service: str = "stack-selftest",
    span_attributes: dict[str, Any] | None = None,
    message: str = "selftest line",
    log_fields: dict[str, Any] | None = None,
) -> str:
    """One span with the attributes and, inside it, one log record, exported at once: the span to
    the OTLP/HTTP base URL `traces_to`, the log record to `logs_to` (each only if given).
    Returns the trace id."""
    resource = Resource.create({"service.name": service})
    tracer_provider = TracerProvider(resource=resource)
    if traces_to:
        exporter = OTLPSpanExporter(endpoint=f"{traces_to}/v1/traces")
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    logger_provider = LoggerProvider(resource=resource)
    if logs_to:
        logger_provider.add_log_record_processor(
            SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{logs_to}/v1/logs"))
        )
    logger = logging.getLogger(f"selftest.{uuid.uuid4().hex[:8]}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(LoggingHandler(logger_provider=logger_provider))
    tracer = tracer_provider.get_tracer("selftest")
    try:
        with tracer.start_as_current_span("selftest request", attributes=span_attributes or {}) as span:
            logger.info(message, extra=log_fields or {})
            trace_id = format(span.get_span_context().trace_id, "032x")
    finally:
        tracer_provider.shutdown()
        logger_provider.shutdown()
    return trace_id
