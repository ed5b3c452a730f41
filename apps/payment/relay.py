"""The outbox relay: publishes payment events written to payment.outbox to Kafka.

Rows are written in the same transaction as the payment's state change, so an event exists if and
only if the change committed. The relay locks a batch (FOR UPDATE SKIP LOCKED, so every worker may
run one without two of them sending the same row), publishes it, waits for the broker's
acknowledgement, and marks the rows sent in the same transaction. If Kafka is down the transaction
rolls back, the rows stay unsent, and the relay retries with exponential backoff; the backlog grows
and is visible as payment_outbox_backlog. A crash between the broker's ack and the commit can
publish a row again: consumers dedupe by event id.

Each row carries the W3C trace context of the request that wrote it (`headers`); the relay sends
under that context, so the producer span (and the headers the kafka-python instrumentation adds) belong to
the payment's trace.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from kafka import KafkaProducer
from opentelemetry import context, propagate
from opentelemetry.instrumentation.utils import suppress_instrumentation

from apps.common import background, db, metrics
from apps.notification.kafka_settings import PRODUCER

log = logging.getLogger(__name__)

BATCH_SIZE = 100
IDLE_WAIT_S = 0.2
# After a batch that was not full, wait this long before the next: under steady traffic the relay
# then sends many rows per round instead of one or two (each round costs a transaction, a pooled
# connection's checkout and a broker acknowledgement), for at most this much more delivery
# latency. At 0.05 s each worker's relay ran about 20 rounds a second under load, more rounds than
# payments; at 0.25 s at most 4.
LINGER_S = 0.25
BACKLOG_EVERY_S = 1.0
MAX_BACKOFF_S = 5.0
ACK_TIMEOUT_S = 5.0


class OutboxRelay(background.Worker):
    """Relays batches until stopped; after a failure it counts the error, drops the producer and
    backs off (background.Worker), the rows staying unsent."""

    first_backoff_s = 0.2
    max_backoff_s = MAX_BACKOFF_S

    def __init__(self, bootstrap: str):
        super().__init__("outbox-relay")
        self.bootstrap = bootstrap
        self._producer: KafkaProducer | None = None
        self._backlog_due = 0.0

    def step(self) -> None:
        published = self.relay_batch()
        # At most once a second, idle or not: a count(*) per idle poll cost as much as the poll.
        if time.monotonic() >= self._backlog_due:
            self.update_backlog()
            self._backlog_due = time.monotonic() + BACKLOG_EVERY_S
        if published == 0:
            self.stopping.wait(IDLE_WAIT_S)
        elif published < BATCH_SIZE:
            self.stopping.wait(LINGER_S)

    def recover(self) -> None:
        metrics.counter("payment_outbox_publish_errors_total").inc()
        self.close()
        try:
            self.update_backlog()
        except Exception:  # the database may be the thing that is down
            log.debug("backlog not updated", exc_info=True)

    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = KafkaProducer(bootstrap_servers=self.bootstrap, **PRODUCER)
        return self._producer

    def relay_batch(self) -> int:
        # The polling queries are not part of any payment: traced, they would add a root trace
        # every IDLE_WAIT_S per worker. Only the sends (under each row's own context) are traced.
        with suppress_instrumentation(), db.transaction("outbox_relay") as conn:
            rows = conn.execute(
                "SELECT event_id, topic, key, payload, headers FROM payment.outbox"
                " WHERE published_at IS NULL ORDER BY created_at, event_id LIMIT %s FOR UPDATE SKIP LOCKED",
                (BATCH_SIZE,),
            ).fetchall()
            if not rows:
                return 0
            producer = self.producer()
            futures = [(row["topic"], self._send(producer, row)) for row in rows]
            producer.flush(timeout=ACK_TIMEOUT_S)
            for _topic, future in futures:
                future.get(timeout=ACK_TIMEOUT_S)  # raises if the broker did not acknowledge
            conn.execute(
                "UPDATE payment.outbox SET published_at = now() WHERE event_id = ANY(%s)",
                ([row["event_id"] for row in rows],),
            )
        published = metrics.counter("payment_outbox_published_total")
        for topic, _ in futures:
            published.labels(topic).inc()
        return len(rows)

    @staticmethod
    def _send(producer: KafkaProducer, row: dict[str, Any]) -> Any:
        payload = row["payload"]
        value = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        # A fresh context: the payment's trace context only, not the suppression of the poll.
        token = context.attach(propagate.extract(row["headers"] or {}, context=context.Context()))
        try:
            return producer.send(row["topic"], key=row["key"].encode(), value=value)
        finally:
            context.detach(token)

    def update_backlog(self) -> None:
        with suppress_instrumentation(), db.statement("outbox_backlog") as conn:
            row = conn.execute(
                "SELECT count(*) AS n FROM payment.outbox WHERE published_at IS NULL"
            ).fetchone()
        metrics.gauge("payment_outbox_backlog").set(row["n"] if row else 0)

    def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=1)
            except Exception:  # closing a producer whose broker is gone may fail; it is gone either way
                log.debug("producer close failed", exc_info=True)


def start(bootstrap: str) -> OutboxRelay:
    """Start this process's relay (idempotent)."""
    return background.start_once("outbox-relay", lambda: OutboxRelay(bootstrap))
