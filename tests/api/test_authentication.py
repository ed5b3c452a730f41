"""Authentication: every 401 of the issue, each counted by reason; the signature covers the body,
the query and the Idempotency-Key."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from apps.gateway import signing
from tests.api.conftest import MoneyPath, assert_error

# These need the whole money path (make test-unit leaves them out).
pytestmark = pytest.mark.slow

TARGET = "/api/v1/payments/00000000-0000-0000-0000-000000000000"


def auth_failures(money_path: MoneyPath) -> dict[str, float]:
    text = requests.get(money_path.gateway_url + "/metrics", timeout=5).text
    found = re.findall(r'^gateway_auth_failures_total\{reason="(\w+)"\} (\S+)$', text, re.M)
    return {reason: float(value) for reason, value in found}


def signed(
    money_path: MoneyPath, *, timestamp: int | None = None, secret: str | None = None
) -> dict[str, str]:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Api-Key": money_path.client.api_key,
        "X-Timestamp": stamp,
        "X-Signature": signing.sign(secret or money_path.client.api_secret, stamp, "GET", TARGET, b""),
    }


def send(money_path: MoneyPath, headers: dict[str, str]) -> requests.Response:
    return money_path.client.send("GET", TARGET, headers=headers, sign=False)


@pytest.mark.parametrize(
    ("reason", "code", "make_headers"),
    [
        ("missing_key", "missing_api_key", lambda mp: {}),
        ("bad_key", "invalid_api_key", lambda mp: {**signed(mp), "X-Api-Key": "key_nobody"}),
        ("bad_signature", "invalid_signature", lambda mp: {**signed(mp), "X-Signature": "0" * 64}),
        (
            "bad_signature",
            "invalid_signature",
            lambda mp: {k: v for k, v in signed(mp).items() if k != "X-Signature"},
        ),
        ("bad_signature", "invalid_signature", lambda mp: signed(mp, secret="not-the-secret")),
        ("stale_timestamp", "stale_timestamp", lambda mp: signed(mp, timestamp=int(time.time()) - 301)),
        ("stale_timestamp", "stale_timestamp", lambda mp: signed(mp, timestamp=int(time.time()) + 400)),
        ("stale_timestamp", "invalid_timestamp", lambda mp: {**signed(mp), "X-Timestamp": "yesterday"}),
    ],
)
def test_rejected_with_401_and_counted(money_path: MoneyPath, reason: str, code: str, make_headers) -> None:  # type: ignore[no-untyped-def]
    before = auth_failures(money_path).get(reason, 0.0)
    error = assert_error(send(money_path, make_headers(money_path)), 401, code)
    assert error["field"] is not None
    assert auth_failures(money_path).get(reason, 0.0) == before + 1


def test_a_read_signed_once_may_be_sent_again(money_path: MoneyPath) -> None:
    headers = signed(money_path)
    before = auth_failures(money_path)
    assert send(money_path, headers).status_code == 404  # authenticated; the payment does not exist
    assert send(money_path, headers).status_code == 404  # within the window: served again
    assert auth_failures(money_path) == before
    assert set(before) == {"missing_key", "bad_key", "bad_signature", "stale_timestamp"}


def test_tampered_body_fails_the_signature(money_path: MoneyPath) -> None:
    user = money_path.new_user(10_000)
    body = json.dumps(money_path.payment(user, 100)).encode()
    stamp = str(int(time.time()))
    headers = {
        "X-Api-Key": money_path.client.api_key,
        "X-Timestamp": stamp,
        "X-Signature": signing.sign(
            money_path.client.api_secret, stamp, "POST", "/api/v1/payments", body, "tampered"
        ),
        "Idempotency-Key": "tampered",
    }
    tampered = body.replace(b'"amount": 100', b'"amount": 9999')
    response = money_path.client.send("POST", "/api/v1/payments", body=tampered, headers=headers, sign=False)
    assert_error(response, 401, "invalid_signature")
    # The key is signed too: the untampered body under another key is refused as well.
    other_key = {**headers, "Idempotency-Key": "tampered-2"}
    response = money_path.client.send("POST", "/api/v1/payments", body=body, headers=other_key, sign=False)
    assert_error(response, 401, "invalid_signature")
    assert money_path.balance(user) == 10_000
    # Signed as sent, it is accepted.
    response = money_path.client.send("POST", "/api/v1/payments", body=body, headers=headers, sign=False)
    assert response.status_code == 201, response.text
    assert money_path.balance(user) == 10_000 - 100


def test_query_string_is_signed(money_path: MoneyPath) -> None:
    """The balance query's currency is part of the signed target: changing it breaks the signature."""
    user = money_path.users[0]
    stamp = str(int(time.time()))
    signed_target = f"/api/v1/accounts/{user}?currency=EUR"
    headers = {
        "X-Api-Key": money_path.client.api_key,
        "X-Timestamp": stamp,
        "X-Signature": signing.sign(money_path.client.api_secret, stamp, "GET", signed_target, b""),
    }
    response = money_path.client.send(
        "GET", f"/api/v1/accounts/{user}?currency=USD", headers=headers, sign=False
    )
    assert_error(response, 401, "invalid_signature")


def test_no_credentials_in_logs(money_path: MoneyPath) -> None:
    """Neither the API key, the secret nor a signature appears in any service's log."""
    headers = signed(money_path)
    send(money_path, headers)
    logs = (money_path.stack.state_dir / "logs").glob("*.log")
    text = "\n".join(path.read_text(errors="replace") for path in logs)
    assert money_path.client.api_key not in text
    assert money_path.client.api_secret not in text
    assert headers["X-Signature"] not in text
