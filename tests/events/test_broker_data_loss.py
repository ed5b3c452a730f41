"""A broker that loses records it had acknowledged: the outbox relay sends the recent events again.

tansu keeps its log in memory, so a restart loses every record, as a Kafka whose replicas all lost
their disks would. No consumer runs here, so no event had been read before the loss: without the
relay's replay they would be gone for good. Real PostgreSQL, Redis, tansu and the services under
gunicorn; the payment service with its relays (two workers).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from kafka import KafkaConsumer, TopicPartition

from apps.payment.outbox import TOPIC
from apps.payment.relay import OutboxRelay
from obsctl.run.stack.tansu import Tansu
from tests.events.money_path import start_money_path
from tests.events.test_outbox_events import make_payments, metric, outbox_events, unpublished, wait_for
from tests.services.payment_harness import PaymentServices


@pytest.fixture(scope="module")
def lossy_broker(stack_state_dir: Path) -> Iterator[Tansu]:
    broker = Tansu(stack_state_dir, name="tansu-lossy")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def payment_without_consumer(
    postgres: object, redis_server: object, lossy_broker: Tansu, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PaymentServices]:
    log_dir = tmp_path_factory.mktemp("broker-loss-logs")
    services = start_money_path(
        postgres, redis_server, lossy_broker, log_dir, "broker_data_loss", consumer=False
    )
    try:
        yield services
    finally:
        services.close()


def event_ids_in_topic(bootstrap: str) -> list[str]:
    """Every event id in the topic's log, from its start (a reader without a group)."""
    reader = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, consumer_timeout_ms=1_500)
    try:
        partitions = [TopicPartition(TOPIC, p) for p in reader.partitions_for_topic(TOPIC) or ()]
        if not partitions:
            return []
        reader.assign(partitions)
        reader.seek_to_beginning()
        return [json.loads(record.value)["event_id"] for record in reader]
    finally:
        reader.close()


def test_events_the_broker_lost_after_acknowledging_them_are_sent_again(
    payment_without_consumer: PaymentServices, lossy_broker: Tansu
) -> None:
    services = payment_without_consumer
    ids, _ = make_payments(services, 8)
    expected = set(outbox_events(services, ids))
    assert len(expected) == 8
    wait_for("every event is acknowledged by the broker", lambda: unpublished(services, ids) == 0)
    assert set(event_ids_in_topic(lossy_broker.bootstrap)) == expected

    port = lossy_broker.port
    lossy_broker.stop()
    lossy_broker.start(port)  # same address, an empty log: every acknowledged record is gone
    # No payment from here on: the relays are idle, and find the loss by the partitions' end offsets.
    wait_for(
        "the lost events are in the broker's new log",
        lambda: expected <= set(event_ids_in_topic(lossy_broker.bootstrap)),
        timeout=30,
    )
    assert metric(services, "payment", "payment_outbox_replayed_total") >= len(expected)
    log = (services.log_dir / "payment.log").read_text()
    assert "the broker lost records it had acknowledged" in log

    # Afterwards events flow as before, each sent once more at most (both workers' relays may replay).
    later, _ = make_payments(services, 4)
    wait_for("later events are published", lambda: unpublished(services, later) == 0)
    in_topic = event_ids_in_topic(lossy_broker.bootstrap)
    assert set(outbox_events(services, later)) <= set(in_topic)
    # Each relay that saw the loss marked the window unsent once (two workers: at most two replays).
    assert max(in_topic.count(event) for event in expected) <= 3
    log = (services.log_dir / "payment.log").read_text()
    assert log.count("the broker lost records it had acknowledged") <= 2


def ack(partition: int, offset: int) -> SimpleNamespace:
    return SimpleNamespace(topic=TOPIC, partition=partition, offset=offset)


def test_an_acknowledged_offset_not_above_an_earlier_one_means_the_log_started_over() -> None:
    relay = OutboxRelay("127.0.0.1:9")  # never connects: only the bookkeeping of acknowledgements
    assert not relay._offsets_went_back([ack(0, 0), ack(0, 1), ack(1, 0)])
    assert not relay._offsets_went_back([ack(0, 2), ack(1, 5)])
    assert relay._acked == {TopicPartition(TOPIC, 0): 2, TopicPartition(TOPIC, 1): 5}
    # What the end offsets are checked against: the first offset of each partition's latest round.
    assert relay._latest_round_first == {TopicPartition(TOPIC, 0): 2, TopicPartition(TOPIC, 1): 5}
    assert relay._offsets_went_back([ack(1, 0)])  # partition 1 handed out offset 0 again
    assert not relay._offsets_went_back([ack(0, 3)])
