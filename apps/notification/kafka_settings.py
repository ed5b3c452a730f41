"""Kafka client settings shared by the outbox relay and the notification consumer.

Measured against tansu (the local broker): with kafka-python's defaults a group join takes about
5 s; a 6 s session timeout with 1 s heartbeats brings it to about 3 s and makes a restarted broker
noticed quickly. Apache Kafka in the chart works with the same values.
"""

from __future__ import annotations

from typing import Any

# One topic per event family (the payment family: succeeded, failed, refunded), keyed by payment
# id so one payment's events stay in order in one partition.
TOPICS = ("payments",)
CONSUMER_GROUP = "notification"

CONSUMER: dict[str, Any] = {
    "group_id": CONSUMER_GROUP,
    "enable_auto_commit": False,  # commit only after the notification row is committed
    "auto_offset_reset": "earliest",
    "session_timeout_ms": 6_000,
    "heartbeat_interval_ms": 1_000,
    "max_poll_interval_ms": 60_000,
    "reconnect_backoff_ms": 100,
    "reconnect_backoff_max_ms": 2_000,
    "request_timeout_ms": 10_000,
    "metadata_max_age_ms": 10_000,
    # Iteration stops after this much silence, so the loop can update lag and notice shutdown.
    "consumer_timeout_ms": 1_000,
}

PRODUCER: dict[str, Any] = {
    "acks": "all",
    "retries": 0,  # the relay retries whole batches with backoff; rows stay unsent until acked
    "request_timeout_ms": 5_000,
    "max_block_ms": 3_000,  # a send never blocks a relay loop longer than this when Kafka is down
    "reconnect_backoff_ms": 100,
    "reconnect_backoff_max_ms": 2_000,
    "linger_ms": 5,
}

# The relay's client for partitions' end offsets (no group: it reads no records).
OFFSETS_CLIENT: dict[str, Any] = {
    "group_id": None,
    "enable_auto_commit": False,
    "request_timeout_ms": 5_000,
    "reconnect_backoff_ms": 100,
    "reconnect_backoff_max_ms": 2_000,
    "metadata_max_age_ms": 10_000,
}
