"""The channel service under a real gunicorn with two workers: its /metrics is exactly its catalog.

The runner starts the channel with one worker (its state is per process); two here prove that
the metrics of several workers are summed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import requests

from tests.services.service_harness import (
    catalog_shape,
    drive_until_every_worker_served,
    exposed_shape,
    samples,
    signed_as,
)

PAYMENT, OPERATOR = signed_as("payment"), signed_as("operator")


def test_metrics_match_the_catalog_across_two_workers(
    run_gunicorn: Callable[..., str], tmp_path: Path
) -> None:
    url = run_gunicorn("channel", {"CHANNEL_LATENCY_MS": "2"})

    def charge() -> None:
        body = {"payment_id": uuid.uuid4().hex, "amount": 100, "currency": "EUR", "channel": "bank_transfer"}
        answer = requests.post(f"{url}/v1/charges", json=body, auth=PAYMENT, timeout=10)
        assert answer.status_code == 200 and answer.json()["status"] == "approved"

    sent = drive_until_every_worker_served(charge, tmp_path / "channel-metrics")
    text = requests.get(f"{url}/metrics", timeout=5).text
    assert exposed_shape(text) == catalog_shape("channel")
    values = samples(text)
    assert values[("channel_requests_total", (("channel", "bank_transfer"), ("outcome", "approved")))] == sent
    assert values[("channel_latency_seconds_count", (("channel", "bank_transfer"),))] == sent
    assert values[("channel_fault_active", (("fault", "timeout"),))] == 0


def test_default_deployment_keeps_switches_and_idempotency_consistent(
    run_gunicorn: Callable[..., str],
) -> None:
    # gunicorn_conf.py runs the channel as one process by default: every request sees the switch.
    url = run_gunicorn("channel", {"CHANNEL_LATENCY_MS": "1"}, workers=None)
    assert (
        requests.put(f"{url}/v1/faults", json={"decline_rate": 1}, auth=OPERATOR, timeout=5).status_code
        == 200
    )
    bodies = [
        {"payment_id": uuid.uuid4().hex, "amount": 100, "currency": "EUR", "channel": "card"}
        for _ in range(24)
    ]
    answers = [
        requests.post(f"{url}/v1/charges", json=b, auth=PAYMENT, timeout=10).json()["status"] for b in bodies
    ]
    assert answers == ["declined"] * len(bodies)
    assert requests.delete(f"{url}/v1/faults", auth=OPERATOR, timeout=5).status_code == 200
    # Recorded answers replay after the reset, whichever thread serves the retry.
    replays = [
        requests.post(f"{url}/v1/charges", json=b, auth=PAYMENT, timeout=10).json()["status"] for b in bodies
    ]
    assert replays == answers
    values = samples(requests.get(f"{url}/metrics", timeout=5).text)
    assert values[("channel_requests_total", (("channel", "card"), ("outcome", "declined")))] == 2 * len(
        bodies
    )
    assert values[("channel_fault_active", (("fault", "decline"),))] == 0
