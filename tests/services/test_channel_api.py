"""The channel HTTP API in process: charges, refunds, the fault switches and their metric."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient

from apps.channel.app import create_app
from tests.services.service_harness import signed_client


@pytest.fixture
def client(app_env: Callable[..., None]) -> FlaskClient:
    app_env("channel", CHANNEL_LATENCY_MS="1", CHANNEL_LATENCY_SIGMA="0", CHANNEL_SEED="3")
    return signed_client(create_app())


def charge_body(**overrides: Any) -> dict[str, Any]:
    return {"payment_id": uuid.uuid4().hex, "amount": 500, "currency": "EUR", "channel": "card", **overrides}


def test_charge_lookup_and_refund(client: FlaskClient) -> None:
    body = charge_body()
    charged = client.post("/v1/charges", json=body)
    assert charged.status_code == 200 and charged.json is not None
    assert charged.json["status"] == "approved" and charged.json["provider_ref"]
    assert client.post("/v1/charges", json=body).json == charged.json
    looked_up = client.get(f"/v1/charges/{body['payment_id']}")
    assert looked_up.status_code == 200 and looked_up.json is not None
    assert looked_up.json["provider_ref"] == charged.json["provider_ref"]
    assert client.get("/v1/charges/never").status_code == 404
    refund = {**body, "refund_id": uuid.uuid4().hex, "amount": 200}
    refunded = client.post("/v1/refunds", json=refund)
    assert refunded.status_code == 200 and refunded.json is not None and refunded.json["status"] == "approved"
    conflict = client.post("/v1/charges", json={**body, "amount": 501})
    assert conflict.status_code == 409 and conflict.json is not None
    assert conflict.json["error"]["code"] == "idempotency_conflict"


def test_fault_switches_at_runtime(client: FlaskClient) -> None:
    assert client.get("/v1/faults").json == {
        "decline_rate": 0.0,
        "error_rate": 0.0,
        "timeout_rate": 0.0,
        "latency_ms": 1.0,
        "latency_sigma": 0.0,
    }
    changed = client.put("/v1/faults", json={"error_rate": 1})
    assert changed.status_code == 200 and changed.json is not None and changed.json["error_rate"] == 1
    failed = client.post("/v1/charges", json=charge_body(channel="wallet"))
    assert failed.status_code == 503 and failed.json is not None
    assert failed.json["error"]["code"] == "provider_error"
    metrics = client.get("/metrics").text
    assert 'channel_fault_active{fault="error"} 1.0' in metrics
    assert 'channel_requests_total{channel="wallet",outcome="error"} 1.0' in metrics

    client.put("/v1/faults", json={"error_rate": 0, "decline_rate": 1})
    declined = client.post("/v1/charges", json=charge_body())
    assert declined.status_code == 200 and declined.json is not None
    assert (declined.json["status"], declined.json["reason"]) == ("declined", "issuer_declined")

    client.put("/v1/faults", json={"decline_rate": 0, "timeout_rate": 1})
    timed_out = client.post("/v1/charges", json=charge_body(), headers={"X-Deadline-Ms": "50"})
    assert timed_out.status_code == 504

    assert client.get("/v1/faults/defaults").json["latency_ms"] == 1.0  # type: ignore[index]
    reset = client.delete("/v1/faults")
    assert reset.status_code == 200 and reset.json is not None and reset.json["timeout_rate"] == 0
    assert 'channel_fault_active{fault="timeout"} 0.0' in client.get("/metrics").text
    assert client.post("/v1/charges", json=charge_body()).json["status"] == "approved"  # type: ignore[index]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/charges", {"amount": 5.5}, "amount"),
        ("/v1/charges", {"amount": -1}, "amount"),
        ("/v1/charges", {"channel": "cash"}, "channel"),
        ("/v1/charges", {"currency": 978}, "currency"),
        ("/v1/charges", {"card_number": "4111"}, "card_number"),
        ("/v1/refunds", {}, "refund_id"),
        ("/v1/faults", {"error_rate": 1.5}, "error_rate"),
        ("/v1/faults", {"error_rate": "0.5"}, "error_rate"),
        ("/v1/faults", {"latency_ms": -1}, "latency_ms"),
        ("/v1/faults", {"chaos": 1}, "chaos"),
    ],
)
def test_invalid_bodies_name_the_field(
    client: FlaskClient, path: str, body: dict[str, Any], field: str
) -> None:
    send = client.put if path == "/v1/faults" else client.post
    full = body if path == "/v1/faults" else {**charge_body(), **body}
    response = send(path, json=full)
    assert response.status_code == 422 and response.json is not None
    assert response.json["error"]["field"] == field
    assert client.get("/v1/faults").json["error_rate"] == 0  # type: ignore[index]


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").json == {"status": "ready", "checks": {}}
