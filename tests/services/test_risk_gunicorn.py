"""The risk service under a real gunicorn with two workers: its /metrics is exactly its catalog."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from tests.services.service_harness import (
    catalog_shape,
    drive_until_every_worker_served,
    exposed_shape,
    samples,
    signed_as,
)


def test_metrics_match_the_catalog_across_two_workers(
    run_gunicorn: Callable[..., str], redis_server: Any, tmp_path: Path
) -> None:
    url = run_gunicorn("risk", {"REDIS_URL": redis_server.url})
    assert requests.get(f"{url}/readyz", timeout=5).json()["checks"] == {"redis": "ok"}

    def evaluate() -> None:
        body = {"payment_id": uuid.uuid4().hex, "user_id": uuid.uuid4().hex, "amount": 100, "currency": "EUR"}
        answer = requests.post(f"{url}/v1/risk/evaluations", json=body, auth=signed_as("payment"), timeout=10)
        assert answer.status_code == 200 and answer.json()["decision"] == "approve"

    sent = drive_until_every_worker_served(evaluate, tmp_path / "risk-metrics")
    text = requests.get(f"{url}/metrics", timeout=5).text
    assert exposed_shape(text) == catalog_shape("risk")
    values = samples(text)
    assert values[("risk_decisions_total", (("decision", "approve"), ("mode", "normal")))] == sent
    redis_ops = ("redis_client_operation_duration_seconds_count", (("db_operation_name", "risk_history"),))
    assert values[redis_ops] == sent
