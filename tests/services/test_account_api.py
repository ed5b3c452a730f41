"""The account HTTP API in process, on a real PostgreSQL: status codes, bodies, hostile input."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from apps.account.app import create_app
from apps.account.seed import open_account
from tests.services.service_harness import samples, signed_client


@pytest.fixture
def client(app_env: Callable[..., None], ledger_dsn: str) -> FlaskClient:
    app_env("account", DATABASE_URL=ledger_dsn)
    return signed_client(create_app())


def funded_user(dsn: str, balance: int = 1_000) -> str:
    user = f"api-{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn) as conn:
        open_account(conn, user, "EUR", balance)
    return user


def debit_body(user: str, **overrides: Any) -> dict[str, Any]:
    return {
        "payment_id": f"p-{uuid.uuid4().hex}",
        "user_id": user,
        "currency": "EUR",
        "amount": 250,
        **overrides,
    }


def test_debit_then_duplicate(client: FlaskClient, ledger_dsn: str) -> None:
    user = funded_user(ledger_dsn)
    body = debit_body(user)
    first = client.post("/v1/ledger/debits", json=body)
    assert first.status_code == 201
    assert first.json is not None and first.json["balance"] == 750 and first.json["duplicate"] is False
    again = client.post("/v1/ledger/debits", json=body)
    assert again.status_code == 200
    assert again.json == {**first.json, "duplicate": True}
    got = client.get(f"/v1/accounts/{user}?currency=EUR")
    assert got.status_code == 200 and got.json == {"user_id": user, "currency": "EUR", "balance": 750}


def test_refusals_have_error_bodies(client: FlaskClient, ledger_dsn: str) -> None:
    user = funded_user(ledger_dsn, 100)
    poor = client.post("/v1/ledger/debits", json=debit_body(user, amount=101))
    assert poor.status_code == 422 and poor.json is not None
    assert poor.json["error"]["code"] == "insufficient_funds"
    unknown = client.post("/v1/ledger/debits", json=debit_body("nobody-" + user))
    assert unknown.status_code == 404 and unknown.json is not None
    assert unknown.json["error"]["code"] == "account_not_found"
    missing = client.get(f"/v1/accounts/{user}?currency=USD")
    assert missing.status_code == 404
    never_debited = client.post(
        "/v1/ledger/credits",
        json={
            "reference_id": "p-none",
            "kind": "compensation",
            "user_id": user,
            "currency": "EUR",
            "amount": 5,
        },
    )
    assert never_debited.status_code == 404 and never_debited.json is not None
    assert never_debited.json["error"]["code"] == "debit_not_found"


def test_credit_refund(client: FlaskClient, ledger_dsn: str) -> None:
    user = funded_user(ledger_dsn, 0)
    body = {"reference_id": f"r-{user}", "kind": "refund", "user_id": user, "currency": "EUR", "amount": 40}
    assert client.post("/v1/ledger/credits", json=body).status_code == 201
    assert client.post("/v1/ledger/credits", json=body).status_code == 200
    assert client.get(f"/v1/accounts/{user}?currency=EUR").json == {
        "user_id": user,
        "currency": "EUR",
        "balance": 40,
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 10.0}, "amount"),
        ({"amount": "10"}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": 10**13}, "amount"),
        ({"currency": "eur"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"user_id": ""}, "user_id"),
        ({"payment_id": 7}, "payment_id"),
        ({"extra": 1}, "extra"),
    ],
)
def test_invalid_debits_name_the_field(
    client: FlaskClient, ledger_dsn: str, change: dict[str, Any], field: str
) -> None:
    user = funded_user(ledger_dsn)
    response = client.post("/v1/ledger/debits", json=debit_body(user, **change))
    assert response.status_code == 422
    assert response.json is not None and response.json["error"]["field"] == field
    assert client.get(f"/v1/accounts/{user}?currency=EUR").json["balance"] == 1_000  # type: ignore[index]


def test_missing_field_and_malformed_bodies(client: FlaskClient, ledger_dsn: str) -> None:
    user = funded_user(ledger_dsn)
    body = debit_body(user)
    del body["amount"]
    missing = client.post("/v1/ledger/debits", json=body)
    assert missing.status_code == 422 and missing.json is not None
    assert missing.json["error"]["field"] == "amount"
    for raw in (b"{", b"[1, 2]", b"null", b"\xff\xfe", b""):
        response = client.post("/v1/ledger/debits", data=raw, content_type="application/json")
        assert 400 <= response.status_code < 500, raw
        assert response.json is not None and set(response.json["error"]) == {"code", "message", "field"}
    bad_kind = client.post(
        "/v1/ledger/credits",
        json={"reference_id": "r", "kind": "gift", "user_id": user, "currency": "EUR", "amount": 1},
    )
    assert (
        bad_kind.status_code == 422
        and bad_kind.json is not None
        and bad_kind.json["error"]["field"] == "kind"
    )
    no_currency = client.get(f"/v1/accounts/{user}")
    assert no_currency.status_code == 422 and no_currency.json is not None
    assert no_currency.json["error"]["field"] == "currency"
    assert client.get("/v1/nothing").status_code == 404
    assert client.get("/v1/ledger/debits").status_code == 405


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json == {"status": "ready", "checks": {"postgres": "ok"}}


def test_not_ready_without_postgres(app_env: Callable[..., None]) -> None:
    app_env("account", DATABASE_URL="postgresql://nobody@127.0.0.1:1/none", DB_POOL_TIMEOUT_S="0.5")
    ready = signed_client(create_app()).get("/readyz")
    assert ready.status_code == 503 and ready.json is not None
    assert ready.json["checks"]["postgres"].startswith("failed")


def test_a_held_row_lock_ends_in_504_within_the_deadline(client: FlaskClient, ledger_dsn: str) -> None:
    user = funded_user(ledger_dsn)
    with psycopg.connect(ledger_dsn) as blocker:
        blocker.execute("SELECT 1 FROM ledger.accounts WHERE user_id = %s FOR UPDATE", (user,))
        response = client.post("/v1/ledger/debits", json=debit_body(user), headers={"X-Deadline-Ms": "300"})
        assert response.status_code == 504 and response.json is not None
        assert response.json["error"]["code"] == "deadline_exceeded"
        blocker.rollback()
    assert client.get(f"/v1/accounts/{user}?currency=EUR").json["balance"] == 1_000  # type: ignore[index]


def test_postgres_down_is_503_not_500(app_env: Callable[..., None]) -> None:
    app_env("account", DATABASE_URL="postgresql://nobody@127.0.0.1:1/none", DB_POOL_TIMEOUT_S="0.3")
    client = signed_client(create_app())
    errors = ("ledger_operations_total", (("operation", "debit"), ("result", "error")))
    before = samples(client.get("/metrics").text)[errors]
    response = client.post("/v1/ledger/debits", json=debit_body("u"))
    assert response.status_code == 503 and response.json is not None
    assert response.json["error"]["code"] == "dependency_unavailable"
    assert samples(client.get("/metrics").text)[errors] == before + 1
