"""The notification consumer: a background thread that records each payment event exactly once.

Offsets are committed only after the notification rows are durable (in groups: every
COMMIT_EVERY_S or COMMIT_EVERY_RECORDS, NOTIFICATION_COMMIT_EVERY_S / _RECORDS in the environment),
so a crash of the consumer redelivers rather than loses; the primary key on event_id turns a
redelivery into a counted duplicate. Each row's transaction commits with synchronous_commit on,
whatever the server's default: with it off (a common tuning), PostgreSQL acknowledges a commit
before its WAL is flushed, and a crash of the database after the offset commit loses the row for
good (issue 16, finding 3; tests/services/test_notification_durability.py).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from datetime import UTC, datetime

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from opentelemetry import propagate, trace
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from apps.common import background, db, metrics
from apps.common.config import env
from apps.notification import events
from apps.notification.kafka_settings import CONSUMER, TOPICS

log = logging.getLogger(__name__)
COMMIT_EVERY_S = 0.5
COMMIT_EVERY_RECORDS = 100
LAG_EVERY_S = 1.0
# kafka-python's commit() and position() wait without end by default while the group coordinator
# is unknown; after a broker crash that hung the consumer for good. Bounded, the call fails and
# background.Worker rebuilds the consumer, which rejoins the group and carries on.
KAFKA_CALL_TIMEOUT_MS = 10_000
tracer = trace.get_tracer(__name__)


class _HeaderGetter:
    """Reads W3C trace context from Kafka record headers (a list of (str, bytes))."""

    def get(self, carrier: list[tuple[str, bytes]], key: str) -> list[str] | None:
        values = [v.decode("latin-1") for k, v in carrier or [] if k.lower() == key.lower() and v]
        return values or None

    def keys(self, carrier: list[tuple[str, bytes]]) -> list[str]:
        return [k for k, _ in carrier or []]


_GETTER = _HeaderGetter()


def record_event(value: bytes, headers: list[tuple[str, bytes]]) -> str:
    """Store one event; returns the result label (recorded, duplicate, error)."""
    try:
        event, payload = events.parse(value)
    except (ValueError, ValidationError):
        log.warning("discarding a malformed payment event")
        metrics.counter("notifications_total").labels("unknown", "error").inc()
        return "error"
    # Join the payment's trace: the context travelled from the outbox row through the headers.
    parent = propagate.extract(headers, getter=_GETTER)  # type: ignore[arg-type]
    with tracer.start_as_current_span(
        "notification record", context=parent, kind=trace.SpanKind.CONSUMER
    ) as span:
        span.set_attribute("payment.event_type", event.event_type)
        with db.transaction("record_notification") as conn:
            # Durable before the offset is committed, even on a server tuned for async commits.
            conn.execute("SET LOCAL synchronous_commit = on")
            row = conn.execute(
                "INSERT INTO notification.notifications"
                " (event_id, event_type, payment_id, payload, event_created_at)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING RETURNING recorded_at",
                (event.event_id, event.event_type, event.payment_id, Jsonb(payload), event.created_at),
            ).fetchone()
        result = "recorded" if row else "duplicate"
        span.set_attribute("notification.result", result)
        log.info(
            "notification %s",
            result,
            extra={"payment.id": event.payment_id, "payment.event_type": event.event_type},
        )
    metrics.counter("notifications_total").labels(event.event_type, result).inc()
    if row:
        created = event.created_at if event.created_at.tzinfo else event.created_at.replace(tzinfo=UTC)
        latency = (datetime.now(UTC) - created).total_seconds()
        metrics.histogram("notification_delivery_latency_seconds").labels(event.event_type).observe(
            max(0.0, latency)
        )
    return result


class NotificationConsumer(background.Worker):
    """Consumes until stopped; after a failure it rebuilds the Kafka consumer (background.Worker)."""

    first_backoff_s = 0.5
    max_backoff_s = 10.0

    def __init__(self, bootstrap: str):
        super().__init__("notification-consumer")
        self.bootstrap = bootstrap
        self.connected = threading.Event()
        self._consumer: KafkaConsumer | None = None
        self.commit_every_s = env("NOTIFICATION_COMMIT_EVERY_S", COMMIT_EVERY_S, float)
        self.commit_every_records = env("NOTIFICATION_COMMIT_EVERY_RECORDS", COMMIT_EVERY_RECORDS, int)

    def recover(self) -> None:
        self.connected.clear()
        self.close()

    def step(self) -> None:
        self._consumer = KafkaConsumer(*TOPICS, bootstrap_servers=self.bootstrap, **CONSUMER)
        self.connected.set()
        while not self.stopping.is_set():
            # Iterating (not poll()) is what the kafka-python instrumentation traces; the
            # consumer_timeout_ms setting ends the iteration after a quiet second.
            uncommitted = 0
            commit_due = lag_due = time.monotonic()
            for record in self._consumer:
                record_event(record.value, list(record.headers or []))
                uncommitted += 1
                now = time.monotonic()
                # Offsets are committed in groups (a synchronous round trip to the broker each):
                # after a crash at most that group is delivered again, and the dedupe by event id
                # keeps its notifications single.
                if uncommitted >= self.commit_every_records or now >= commit_due:
                    self._consumer.commit(timeout_ms=KAFKA_CALL_TIMEOUT_MS)
                    uncommitted, commit_due = 0, now + self.commit_every_s
                if now >= lag_due:  # under steady traffic the iteration never pauses
                    self._update_lag()
                    lag_due = now + LAG_EVERY_S
                if self.stopping.is_set():
                    break
            if uncommitted:
                self._consumer.commit(timeout_ms=KAFKA_CALL_TIMEOUT_MS)
            self._update_lag()

    def _update_lag(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        lag = dict.fromkeys(TOPICS, 0)
        assigned: list[TopicPartition] = list(consumer.assignment())
        for tp in assigned:
            position = consumer.position(tp, timeout_ms=KAFKA_CALL_TIMEOUT_MS)
            # The high watermark of the last fetch response, not end_offsets(): tansu answers
            # ListOffsets(latest) with the last batch's base offset + 1, which under-counts.
            end = consumer.highwater(tp)
            if end is None or position is None:  # no fetch answered yet, or the position timed out
                continue
            if position > end:
                # The log is shorter than what we consumed: the broker lost its data (tansu's
                # memory storage after a restart) and numbers offsets from 0 again. Read it all
                # again; the dedupe by event id keeps every notification single.
                log.warning("partition %s ends before our position; reading it again", tp)
                consumer.seek_to_beginning(tp)
                position = consumer.position(tp, timeout_ms=KAFKA_CALL_TIMEOUT_MS)
                if position is None:
                    continue
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, end - position)
        gauge = metrics.gauge("kafka_consumer_lag")
        for topic, value in lag.items():
            gauge.labels(topic).set(value)

    def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(KafkaError):
                consumer.close(autocommit=False)


def start(bootstrap: str) -> NotificationConsumer:
    """Start the one consumer of this process (idempotent)."""
    return background.start_once("notification-consumer", lambda: NotificationConsumer(bootstrap))
