"""Issue 16, finding 3: the notification consumer commits a Kafka offset only after its row is durable.

Two crashes, each with its own broker and database, the consumer under real gunicorn:

- the consumer is SIGKILLed between recording events and committing their offsets: after the
  restart every event is recorded exactly once (the redelivered ones count as duplicates, exactly
  as many as were recorded before the kill);
- PostgreSQL is SIGKILLed right after the consumer committed the offsets of its rows: every row is
  still there. The cluster here is tuned for asynchronous commits (synchronous_commit off, the WAL
  writer flushing every 10 s, the worst case that setting allows), as a production database may
  well be; the consumer commits its rows with synchronous_commit on, so its offsets never run ahead
  of what the database has made durable. Before that (and with the old local settings) the rows of
  the last offsets committed were lost for good: four notification events over four kills.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from apps.common.migrate import migrate
from apps.notification.kafka_settings import CONSUMER_GROUP, TOPICS
from obsctl.run.stack.postgres import Postgres
from obsctl.run.stack.tansu import Tansu
from tests.chaos.crash import sigkill, sigkill_tree
from tests.services.payment_harness import PaymentServices

pytestmark = pytest.mark.slow
TOPIC = TOPICS[0]


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        try:
            if check():
                return
        except (requests.RequestException, psycopg.Error):
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting until {what}")


def event(payment_id: str | None = None) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "payment.succeeded",
        "payment_id": payment_id or str(uuid.uuid4()),
        "created_at": datetime.now(UTC).isoformat(),
        "amount": 1234,
        "currency": "EUR",
    }


class Events:
    """Produces events to the broker and reads the notification group's committed offsets."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.sent: list[str] = []
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)

    def send(self, count: int, every_s: float = 0.0) -> None:
        for _ in range(count):
            e = event()
            self.producer.send(TOPIC, key=e["payment_id"].encode(), value=json.dumps(e).encode()).get(10)
            self.sent.append(e["event_id"])
            if every_s:
                time.sleep(every_s)

    def committed(self) -> int:
        """The sum of the group's committed offsets over the topic's partitions (= records committed)."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=CONSUMER_GROUP, enable_auto_commit=False
        )
        try:
            partitions = consumer.partitions_for_topic(TOPIC) or set()
            return sum(consumer.committed(TopicPartition(TOPIC, p)) or 0 for p in partitions)
        finally:
            consumer.close(autocommit=False)

    def close(self) -> None:
        self.producer.close(timeout=5)


@pytest.fixture
def broker(stack_state_dir: Path, request: pytest.FixtureRequest) -> Iterator[Tansu]:
    server = Tansu(stack_state_dir, name=f"tansu-{request.node.name[-20:]}")
    server.start()
    yield server
    server.stop()


def rows(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        return [
            r[0] for r in conn.execute("SELECT event_id::text FROM notification.notifications").fetchall()
        ]


def start_notification(
    services: PaymentServices, broker: Tansu, name: str = "notification", **env: str
) -> tuple[str, int]:
    # Each start gets its own name, so its own metrics directory: its counters start from zero.
    url = services.start("notification", {"KAFKA_BOOTSTRAP": broker.bootstrap, **env}, workers=1, name=name)
    return url, services.procs[-1].pid


def counted(services: PaymentServices, url: str, result: str) -> float:
    for attempt in range(5):  # a scrape can meet a connection the busy worker reset
        try:
            samples = services.samples(url)
            break
        except requests.RequestException:
            if attempt == 4:
                raise
            time.sleep(0.5)
    return sum(
        value
        for (name, labels), value in samples.items()
        if name == "notifications_total" and ("result", result) in labels
    )


def test_a_consumer_killed_before_committing_loses_and_doubles_nothing(
    postgres: Postgres, broker: Tansu, tmp_path: Path
) -> None:
    dsn = postgres.create_database("notification_consumer_crash")
    migrate(dsn)
    services = PaymentServices(dsn, "redis://127.0.0.1:1/0", tmp_path)
    events = Events(broker.bootstrap)
    try:
        # Offsets are committed only once an hour while records keep coming: the kill lands
        # between recording and committing.
        _, pid = start_notification(
            services, broker, NOTIFICATION_COMMIT_EVERY_S="3600", NOTIFICATION_COMMIT_EVERY_RECORDS="1000000"
        )
        # Half the events before the kill, half while the consumer is dead: the kill lands
        # mid-stream however fast or slow the consumer is.
        events.send(30, 0.05)
        wait_for("some events are recorded", lambda: len(rows(dsn)) >= 20)
        sigkill_tree(pid)
        events.send(30)
        recorded_before = len(rows(dsn))
        committed_before = events.committed()  # the first record's offset: the interval starts due
        assert committed_before < recorded_before - 10, (
            "the kill came after the commit: the test proves nothing"
        )
        assert recorded_before < len(events.sent)

        url, _ = start_notification(services, broker, name="notification-restarted")
        wait_for("every event is committed", lambda: events.committed() == len(events.sent))
        stored = rows(dsn)
        assert sorted(stored) == sorted(events.sent)  # none lost, none twice
        # Everything recorded but not committed before the kill came again, recognised as a duplicate.
        wait_for(
            "the counters catch up",
            lambda: (
                counted(services, url, "recorded") + counted(services, url, "duplicate")
                >= len(events.sent) - committed_before
            ),
        )
        duplicates = counted(services, url, "duplicate")
        print(
            f"recorded before the kill {recorded_before}, committed {committed_before},"
            f" redelivered {duplicates}"
        )
        assert duplicates == recorded_before - committed_before
    finally:
        events.close()
        services.close()


def test_rows_whose_offsets_are_committed_survive_a_database_crash(
    state_dir_factory: Callable[[], Path], broker: Tansu, tmp_path: Path
) -> None:
    database = Postgres(state_dir_factory(), durable=False)
    # Asynchronous commits at their worst: acknowledged commits reach the disk up to 10 s later.
    database.base_settings = {**database.base_settings, "wal_writer_delay": "10s"}
    database.start()
    services = PaymentServices(database.dsn, "redis://127.0.0.1:1/0", tmp_path)
    events = Events(broker.bootstrap)
    try:
        migrate(database.dsn)
        with psycopg.connect(database.dsn) as conn:
            assert conn.execute("SHOW synchronous_commit").fetchone() == ("off",)
        url, _ = start_notification(services, broker, DB_POOL_TIMEOUT_S="1.5")
        events.send(30)
        wait_for("the consumer committed every offset", lambda: events.committed() == len(events.sent))
        assert len(rows(database.dsn)) == len(events.sent)
        sigkill(database)  # right after the offsets: the WAL writer has not flushed since
        database.start()
        wait_for(
            "notification is ready again", lambda: requests.get(f"{url}/readyz", timeout=2).status_code == 200
        )
        events.send(1)  # the consumer is live and consuming again
        wait_for("the next event is recorded", lambda: events.sent[-1] in rows(database.dsn))
        stored = rows(database.dsn)
        assert sorted(set(events.sent) - set(stored)) == []
        assert len(stored) == len(events.sent)
    finally:
        events.close()
        services.close()
        database.stop()
