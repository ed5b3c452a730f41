"""Payment events: outbox -> relay -> tansu -> notification, each event recorded exactly once.

Real PostgreSQL, Redis, tansu and the services under gunicorn (see conftest.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import requests
from kafka import KafkaProducer

from obsctl.run.stack.tansu import Tansu
from tests.services.payment_harness import PaymentServices

WAIT_S = 90.0


def wait_for(what: str, check: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting until {what}")


def outbox_events(services: PaymentServices, payment_ids: list[str]) -> dict[str, str]:
    rows = services.query(
        "SELECT event_id::text, event_type FROM payment.outbox WHERE key = ANY(%s)", payment_ids
    )
    return {r[0]: r[1] for r in rows}


def unpublished(services: PaymentServices, payment_ids: list[str]) -> int:
    rows = services.query(
        "SELECT count(*) FROM payment.outbox WHERE key = ANY(%s) AND published_at IS NULL", payment_ids
    )
    return int(rows[0][0])


def recorded(services: PaymentServices, payment_ids: list[str]) -> list[str]:
    rows = services.query(
        "SELECT event_id::text FROM notification.notifications WHERE payment_id = ANY(%s)", payment_ids
    )
    return [r[0] for r in rows]


def metric(services: PaymentServices, service: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels`."""
    total = 0.0
    for (sample, sample_labels), value in services.samples(services.urls[service]).items():
        if sample == name and set(labels.items()) <= set(sample_labels):
            total += value
    return total


def make_payments(services: PaymentServices, count: int) -> tuple[list[str], dict[str, int]]:
    """`count` payments: most succeed, every fourth is declined (the user cannot afford it)."""
    rich = services.new_users(1, 10_000_000)[0]
    poor = services.new_users(1, 100)[0]
    ids, statuses = [], {}
    for i in range(count):
        declined = i % 4 == 3
        answer = services.pay(poor if declined else rich, 5_000 if declined else 1_250)
        assert answer.status_code in (201, 402), answer.text
        payment_id = answer.json()["payment_id"]
        ids.append(payment_id)
        statuses[payment_id] = answer.status_code
    return ids, statuses


def all_delivered(services: PaymentServices, ids: list[str]) -> Callable[[], bool]:
    def check() -> bool:
        expected = outbox_events(services, ids)
        if not expected or unpublished(services, ids):
            return False
        return set(recorded(services, ids)) == set(expected)

    return check


def test_events_are_published_and_recorded_exactly_once(event_services: PaymentServices) -> None:
    services = event_services
    published_before = metric(services, "payment", "payment_outbox_published_total")
    recorded_before = metric(services, "notification", "notifications_total", result="recorded")
    ids, statuses = make_payments(services, 12)
    refunded = [pid for pid in ids if statuses[pid] == 201][:3]
    for pid in refunded:
        answer = services.refund(pid, 250)
        assert answer.status_code in (200, 201), answer.text

    wait_for("every event is published and recorded", all_delivered(services, ids))

    events = outbox_events(services, ids)
    types = sorted(events.values())
    assert types.count("payment.succeeded") == 9
    assert types.count("payment.failed") == 3
    assert types.count("payment.refunded") == 3
    notes = recorded(services, ids)
    assert sorted(notes) == sorted(events)  # one notification per event, none twice
    # The relay published each row once, and the consumer recorded each event once.
    wait_for(
        "the counters catch up",
        lambda: (
            metric(services, "notification", "notifications_total", result="recorded") - recorded_before
            == len(events)
        ),
    )
    assert metric(services, "payment", "payment_outbox_published_total") - published_before == len(events)
    assert metric(services, "notification", "notification_delivery_latency_seconds_count") >= len(events)
    # The notification read API answers from what was recorded.
    answer = requests.get(
        f"{services.urls['notification']}/v1/notifications/{refunded[0]}",
        auth=services.as_caller("operator"),
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    assert sorted(n["event_type"] for n in answer.json()["notifications"]) == [
        "payment.refunded",
        "payment.succeeded",
    ]


def test_a_redelivered_event_is_counted_as_duplicate_and_recorded_once(
    event_services: PaymentServices, events_broker: Tansu
) -> None:
    services = event_services
    ids, _ = make_payments(services, 2)
    wait_for("the payments' events are recorded", all_delivered(services, ids))
    rows = services.query("SELECT payload, key FROM payment.outbox WHERE key = %s", ids[0])
    payload: dict[str, Any] = rows[0][0]

    def duplicates() -> float:
        return metric(services, "notification", "notifications_total", result="duplicate")

    duplicates_before = duplicates()

    producer = KafkaProducer(bootstrap_servers=events_broker.bootstrap, acks="all")
    try:
        for _ in range(2):  # the same event delivered twice more, as a relay crash could cause
            producer.send("payments", key=rows[0][1].encode(), value=json.dumps(payload).encode())
        producer.flush(timeout=10)
    finally:
        producer.close(timeout=5)

    wait_for(
        "both redeliveries are counted as duplicates",
        lambda: duplicates() - duplicates_before == 2,
    )
    assert recorded(services, [ids[0]]).count(payload["event_id"]) == 1


def test_payments_succeed_while_kafka_is_down_and_every_event_arrives_once_after(
    event_services: PaymentServices, events_broker: Tansu
) -> None:
    services = event_services
    before, _ = make_payments(services, 4)
    # Drained first: tansu keeps records in memory only, so a record still unconsumed when the
    # broker dies dies with it (a replicated Kafka keeps it). That loss is not what this tests.
    wait_for("the earlier events are recorded", all_delivered(services, before))
    port = events_broker.port
    events_broker.stop()

    during, statuses = make_payments(services, 8)
    assert sorted(set(statuses.values())) == [201, 402]  # the API works without Kafka
    expected = outbox_events(services, during)
    assert len(expected) == 8
    wait_for(
        "the outbox backlog gauge shows the unsent events",
        lambda: metric(services, "payment", "payment_outbox_backlog") >= len(expected),
    )
    assert unpublished(services, during) == len(expected)
    # Waited for, not read once: the gauge can show the backlog before any send has failed. Each
    # worker runs a relay; the one holding the rows' locks fails only when its acknowledgement
    # timeout runs out, while another worker's relay, finding every row locked, already counts them.
    wait_for(
        "the relay counts its failed sends",
        lambda: metric(services, "payment", "payment_outbox_publish_errors_total") > 0,
    )

    events_broker.start(port)  # same address: the relay and the consumer reconnect by themselves
    wait_for("every event of the outage is published and recorded", all_delivered(services, during))
    notes = recorded(services, during)
    assert sorted(notes) == sorted(expected)
    wait_for("the backlog gauge drains", lambda: metric(services, "payment", "payment_outbox_backlog") == 0)
