"""Hostile input through the gateway: always a 4xx with the JSON error body, never a 5xx, and
nothing written (payment rows, refunds, ledger movements and every balance unchanged)."""

from __future__ import annotations

import json
import time

import pytest
import requests

from apps.gateway import signing
from tests.api.conftest import MoneyPath, Snapshot, assert_error

# These need the whole money path (make test-unit leaves them out).
pytestmark = pytest.mark.slow

VALID = {"user_id": "user-demo-01", "amount": 100, "currency": "EUR", "payment_method": "card"}


def body_with(**changes: object) -> bytes:
    data: dict[str, object] = {**VALID, **changes}
    return json.dumps({k: v for k, v in data.items() if v is not ...}).encode()


# (raw body, expected status, expected error code, expected field)
BODIES = [
    (b"{", 400, "invalid_json", None),
    (b"", 400, "invalid_json", None),
    (b"not json", 400, "invalid_json", None),
    (b"[1, 2]", 400, "invalid_json", None),
    (b'"a string"', 400, "invalid_json", None),
    (b"\xff\xfe{}", 400, "invalid_json", None),
    (b'{"amount": NaN}', 400, "invalid_json", None),
    (b"[" * 5000 + b"]" * 5000, 400, "invalid_json", None),
    (body_with(amount=10.0), 422, "invalid_field", "amount"),
    (body_with(amount=10.5), 422, "invalid_field", "amount"),
    (body_with(amount="100"), 422, "invalid_field", "amount"),
    (body_with(amount=True), 422, "invalid_field", "amount"),
    (body_with(amount=None), 422, "invalid_field", "amount"),
    (body_with(amount=0), 422, "invalid_field", "amount"),
    (body_with(amount=-100), 422, "invalid_field", "amount"),
    (body_with(amount=100_000_001), 422, "invalid_field", "amount"),
    (body_with(amount=10**40), 422, "invalid_field", "amount"),
    (body_with(currency="XXX"), 422, "invalid_field", "currency"),
    (body_with(currency="eur"), 422, "invalid_field", "currency"),
    (body_with(currency=978), 422, "invalid_field", "currency"),
    (body_with(payment_method="cash"), 422, "invalid_field", "payment_method"),
    (body_with(user_id=""), 422, "invalid_field", "user_id"),
    (body_with(user_id="u" * 65), 422, "invalid_field", "user_id"),
    (body_with(user_id=["user-demo-01"]), 422, "invalid_field", "user_id"),
    (body_with(description="d" * 256), 422, "invalid_field", "description"),
    (body_with(description=42), 422, "invalid_field", "description"),
    (body_with(description="nul\u0000byte"), 422, "invalid_field", "description"),
    (body_with(user_id="user\u0000"), 422, "invalid_field", "user_id"),
    (body_with(user_id="user\nline"), 422, "invalid_field", "user_id"),
    (body_with(amount=...), 422, "invalid_field", "amount"),
    (body_with(currency=...), 422, "invalid_field", "currency"),
    (body_with(user_id=...), 422, "invalid_field", "user_id"),
    (body_with(payment_method=...), 422, "invalid_field", "payment_method"),
    (body_with(merchant_id="someone-else"), 422, "invalid_field", "merchant_id"),
    (body_with(status="succeeded"), 422, "invalid_field", "status"),
]


@pytest.fixture
def unchanged(money_path: MoneyPath):  # type: ignore[no-untyped-def]
    before = money_path.snapshot()
    yield
    assert money_path.snapshot() == before


@pytest.mark.parametrize(("body", "status", "code", "field"), BODIES, ids=[repr(b[0][:40]) for b in BODIES])
def test_bad_payment_bodies(
    money_path: MoneyPath, unchanged: None, body: bytes, status: int, code: str, field: str | None
) -> None:
    headers = {"Idempotency-Key": "hostile-" + str(hash(body))}
    response = money_path.client.send("POST", "/api/v1/payments", body=body, headers=headers)
    error = assert_error(response, status, code)
    assert error["field"] == field


@pytest.mark.parametrize(
    "body",
    [
        b'{"amount": 1.0}',
        b'{"amount": 0}',
        b'{"amount": -5}',
        b'{"amount": "5"}',
        b'{"amount": 5, "x": 1}',
        b"{",
    ],
)
def test_bad_refund_bodies(money_path: MoneyPath, unchanged: None, body: bytes) -> None:
    response = money_path.client.send("POST", "/api/v1/payments/some-payment/refunds", body=body)
    assert_error(response, 422 if body != b"{" else 400)


@pytest.mark.parametrize("key", [None, "", "k" * 256, "caf\u00e9"])
def test_missing_or_bad_idempotency_key_is_400(
    money_path: MoneyPath, unchanged: None, key: str | None
) -> None:
    headers = {} if key is None else {"Idempotency-Key": key}
    raw_headers = {k: v.encode("utf-8") for k, v in headers.items()}
    response = money_path.client.send("POST", "/api/v1/payments", body=body_with(), headers=raw_headers)  # type: ignore[arg-type]
    error = assert_error(response, 400)
    assert error["field"] == "Idempotency-Key"


@pytest.mark.parametrize(
    "target",
    [
        "/api/v1/accounts/%00?currency=EUR",
        "/api/v1/accounts/a%0Ab?currency=EUR",
        "/api/v1/accounts/" + "u" * 65 + "?currency=EUR",
        "/api/v1/payments/..%2F..%2Fetc",
        "/api/v1/payments/" + "p" * 200,
        "/api/v1/payments/%00",
        "/api/v1/nope",
    ],
)
def test_odd_paths_are_404(money_path: MoneyPath, unchanged: None, target: str) -> None:
    assert_error(money_path.client.send("GET", target), 404)


def test_wrong_method_is_405(money_path: MoneyPath, unchanged: None) -> None:
    assert_error(money_path.client.send("DELETE", "/api/v1/payments"), 405)


def test_oversized_chunked_body_is_413(money_path: MoneyPath, unchanged: None) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 1024

    response = requests.post(
        money_path.gateway_url + "/api/v1/payments",
        data=chunks(),
        headers={"X-Api-Key": "whatever", "Idempotency-Key": "k"},
        timeout=10,
    )
    assert_error(response, 413)


def test_signed_with_another_merchants_secret_is_401(money_path: MoneyPath, unchanged: None) -> None:
    other = money_path.new_merchant()
    body = body_with()
    timestamp = str(int(time.time()))
    headers = {
        "X-Api-Key": money_path.client.api_key,
        "X-Timestamp": timestamp,
        "X-Signature": signing.sign(other.api_secret, timestamp, "POST", "/api/v1/payments", body, "cross"),
        "Idempotency-Key": "cross",
    }
    response = money_path.client.send("POST", "/api/v1/payments", body=body, headers=headers, sign=False)
    assert_error(response, 401, "invalid_signature")


def test_snapshot_sees_a_real_payment(money_path: MoneyPath) -> None:
    """The `unchanged` check above can fail: a real payment changes the snapshot."""
    before: Snapshot = money_path.snapshot()
    user = money_path.new_user(1_000)
    assert money_path.client.create_payment(money_path.payment(user, 10)).status_code == 201
    assert money_path.snapshot() != before
