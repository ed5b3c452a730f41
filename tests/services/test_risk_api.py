"""The risk API in process, on a real Redis (velocity, first payment) and without one (degraded)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from apps.risk.app import create_app
from tests.services.service_harness import signed_client


@pytest.fixture
def client(app_env: Callable[..., None], redis_server: Any) -> FlaskClient:
    app_env("risk", REDIS_URL=redis_server.url, RISK_VELOCITY_MAX="4")
    return signed_client(create_app())


def evaluation(user: str, amount: int = 1_000, payment_id: str | None = None) -> dict[str, Any]:
    return {
        "payment_id": payment_id or uuid.uuid4().hex,
        "user_id": user,
        "amount": amount,
        "currency": "EUR",
    }


def test_first_payment_then_velocity(client: FlaskClient) -> None:
    user = uuid.uuid4().hex
    first = client.post("/v1/risk/evaluations", json=evaluation(user, payment_id="p1"))
    assert first.status_code == 200 and first.json is not None
    assert first.json["mode"] == "normal" and first.json["reasons"] == ["first_payment"]
    # A retried evaluation of the same payment is still the first and does not count twice.
    retry = client.post("/v1/risk/evaluations", json=evaluation(user, payment_id="p1"))
    assert retry.json == first.json
    decisions = [client.post("/v1/risk/evaluations", json=evaluation(user)).json for _ in range(4)]
    assert [d["decision"] for d in decisions] == ["approve", "approve", "approve", "reject"]  # type: ignore[index]
    assert decisions[1]["reasons"] == ["elevated_velocity"]  # type: ignore[index]
    assert decisions[3]["reasons"] == ["velocity_exceeded"]  # type: ignore[index]


def test_ready_and_metrics(client: FlaskClient) -> None:
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json == {"status": "ready", "checks": {"redis": "ok"}}
    client.post("/v1/risk/evaluations", json=evaluation(uuid.uuid4().hex))
    text = client.get("/metrics").text
    assert 'risk_decisions_total{decision="approve",mode="normal"}' in text


def test_degrades_when_redis_is_unreachable(app_env: Callable[..., None]) -> None:
    app_env("risk", REDIS_URL="redis://127.0.0.1:1/0", RISK_DEGRADED_MAX_AMOUNT="500")
    client = signed_client(create_app())
    small = client.post("/v1/risk/evaluations", json=evaluation("u", amount=499))
    assert small.status_code == 200
    assert small.json == {
        "decision": "approve",
        "score": 50,
        "reasons": ["degraded_mode"],
        "mode": "degraded",
    }
    big = client.post("/v1/risk/evaluations", json=evaluation("u", amount=500))
    assert big.status_code == 200 and big.json is not None
    assert (big.json["decision"], big.json["mode"]) == ("reject", "degraded")
    # Still ready (it decides without Redis), and says why it is degraded.
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json is not None
    assert ready.json["checks"]["redis"].startswith("degraded")
    text = client.get("/metrics").text
    assert 'risk_decisions_total{decision="reject",mode="degraded"} 1.0' in text
    assert 'redis_client_errors_total{db_operation_name="risk_history"} 2.0' in text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 1.0}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": "5"}, "amount"),
        ({"currency": "E"}, "currency"),
        ({"user_id": None}, "user_id"),
        ({"score": 1}, "score"),
    ],
)
def test_invalid_bodies_name_the_field(client: FlaskClient, change: dict[str, Any], field: str) -> None:
    response = client.post("/v1/risk/evaluations", json={**evaluation("u"), **change})
    assert response.status_code == 422 and response.json is not None
    assert response.json["error"]["field"] == field
    assert (
        client.post("/v1/risk/evaluations", data=b"{oops", content_type="application/json").status_code == 400
    )
