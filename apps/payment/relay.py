"""The outbox relay: publishes payment events written to payment.outbox to Kafka.

Rows are written atomically with the payment's state change, so an event exists if and only if
the change committed. The relay locks a batch (FOR UPDATE SKIP LOCKED, so every worker may
run one without two of them sending the same row), publishes it, waits for the broker's
acknowledgement, and marks the rows sent in the same transaction. If Kafka is down the transaction
rolls back, the rows stay unsent, and the relay retries with exponential backoff; the backlog grows
and is visible as payment_outbox_backlog. A crash between the broker's ack and the commit can
publish a row again: consumers dedupe by event id.

A broker can also lose records it had acknowledged: tansu here keeps its log in memory, and a
Kafka whose replicas all lost their disks does the same. Such a broker hands out offsets from the
start again, so each relay remembers the highest offset acknowledged to it per partition and
notices when an acknowledgement, or the partition's end offset (asked every BROKER_CHECK_EVERY_S),
is not above it. Every event published within the last OUTBOX_REPLAY_WINDOW_S is then marked
unsent again, in the order it was written, and the loop sends it once more: the outbox, not the
broker, is the record of the events. An event older than the window that no consumer had read
when the broker lost it stays lost (ConsumerLagHigh fires long before a consumer is that far
behind). A relay that has had no acknowledgement since it started cannot tell; the other
workers' relays can.

Each row carries the W3C trace context of the request that wrote it (`headers`); the relay sends
under that context, so the producer span (and the headers the kafka-python instrumentation adds) belong to
the payment's trace.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from opentelemetry import context, propagate
from opentelemetry.instrumentation.utils import suppress_instrumentation

from apps.common import background, db, metrics
from apps.notification.kafka_settings import OFFSETS_CLIENT, PRODUCER

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
BROKER_CHECK_EVERY_S = 2.0
REPLAY_WINDOW_S = float(os.environ.get("OUTBOX_REPLAY_WINDOW_S", "900"))


class OutboxRelay(background.Worker):
    """Relays batches until stopped; after a failure it counts the error, drops the producer and
    backs off (background.Worker), the rows staying unsent."""

    first_backoff_s = 0.2
    max_backoff_s = MAX_BACKOFF_S

    def __init__(self, bootstrap: str):
        super().__init__("outbox-relay")
        self.bootstrap = bootstrap
        self._producer: KafkaProducer | None = None
        self._offsets_client: KafkaConsumer | None = None
        self._backlog_due = 0.0
        self._broker_check_due = 0.0
        # Per partition: the highest offset the broker acknowledged to this relay, and the lowest
        # of the latest round that sent to it. The end offset is checked against the latter: tansu
        # answers ListOffsets with its last batch's first offset + 1, not its last offset + 1.
        self._acked: dict[TopicPartition, int] = {}
        self._latest_round_first: dict[TopicPartition, int] = {}

    def step(self) -> None:
        published = self.relay_batch()
        if self._acked and time.monotonic() >= self._broker_check_due:
            self.check_broker()
            self._broker_check_due = time.monotonic() + BROKER_CHECK_EVERY_S
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
            # Raises if the broker did not acknowledge.
            acks = [future.get(timeout=ACK_TIMEOUT_S) for _topic, future in futures]
            conn.execute(
                "UPDATE payment.outbox SET published_at = now() WHERE event_id = ANY(%s)",
                ([row["event_id"] for row in rows],),
            )
            if self._offsets_went_back(acks):
                # In this transaction, so this batch (in the broker's new log already) is not
                # sent twice: its published_at is this transaction's now().
                self.replay(conn, "an acknowledged offset is not above one acknowledged before")
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

    def _offsets_went_back(self, acks: list[Any]) -> bool:
        """Record a round's acknowledgements; True when one is not above every earlier one."""
        went_back = False
        round_first: dict[TopicPartition, int] = {}
        for ack in acks:
            partition = TopicPartition(ack.topic, ack.partition)
            if ack.offset <= self._acked.get(partition, -1):
                went_back = True
            round_first[partition] = min(ack.offset, round_first.get(partition, ack.offset))
        for ack in acks:
            partition = TopicPartition(ack.topic, ack.partition)
            self._acked[partition] = max(ack.offset, self._acked.get(partition, -1))
        self._latest_round_first.update(round_first)
        return went_back

    def check_broker(self) -> None:
        """Every record acknowledged to this relay is in the broker's log: its end is above them."""
        if self._offsets_client is None:
            self._offsets_client = KafkaConsumer(bootstrap_servers=self.bootstrap, **OFFSETS_CLIENT)
        firsts = dict(self._latest_round_first)
        try:
            ends = self._offsets_client.end_offsets(list(firsts))
        except KafkaError:
            # Unreachable: nothing can be sent either, and the next round's failure counts it.
            log.debug("end offsets not read", exc_info=True)
            return
        if any(ends.get(partition, 0) <= first for partition, first in firsts.items()):
            with suppress_instrumentation(), db.transaction("outbox_replay") as conn:
                self.replay(conn, "a partition's end offset is not above an acknowledged offset")

    def replay(self, conn: Any, why: str) -> None:
        """Mark the events of the replay window unsent again; the loop sends them in order."""
        replayed = conn.execute(
            "UPDATE payment.outbox SET published_at = NULL"
            " WHERE published_at >= now() - make_interval(secs => %s) AND published_at < now()",
            (REPLAY_WINDOW_S,),
        ).rowcount
        self._acked.clear()
        self._latest_round_first.clear()
        metrics.counter("payment_outbox_replayed_total").inc(replayed)
        log.warning(
            "the broker lost records it had acknowledged; sending the recent events again",
            extra={"replayed": replayed, "window_s": REPLAY_WINDOW_S, "why": why},
        )

    def update_backlog(self) -> None:
        with suppress_instrumentation(), db.statement("outbox_backlog") as conn:
            row = conn.execute(
                "SELECT count(*) AS n FROM payment.outbox WHERE published_at IS NULL"
            ).fetchone()
        metrics.gauge("payment_outbox_backlog").set(row["n"] if row else 0)

    def close(self) -> None:
        producer, self._producer = self._producer, None
        client, self._offsets_client = self._offsets_client, None
        try:
            if producer is not None:
                producer.close(timeout=1)
            if client is not None:
                client.close(autocommit=False)
        except Exception:  # closing a client whose broker is gone may fail; it is gone either way
            log.debug("kafka client close failed", exc_info=True)


def start(bootstrap: str) -> OutboxRelay:
    """Start this process's relay (idempotent)."""
    return background.start_once("outbox-relay", lambda: OutboxRelay(bootstrap))
