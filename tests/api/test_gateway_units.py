"""The gateway's pure parts, without servers: signing, the client's signatures, validation."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest

from apps.common.errors import ApiError
from apps.gateway import signing, validation
from apps.gateway.client import GatewayClient, SigningAuth
from obsctl.run.load import signing as load_signing


def test_signature_is_hmac_sha256_of_the_documented_message() -> None:
    message = b"1700000000\nPOST\n/api/v1/payments\nkey-1\n{}"
    expected = hmac.new(b"s3cret", message, hashlib.sha256).hexdigest()
    args = ("1700000000", "POST", "/api/v1/payments", b"{}")
    assert signing.sign("s3cret", "1700000000", "post", "/api/v1/payments", b"{}", "key-1") == expected
    assert signing.valid("s3cret", expected, *args, "key-1")
    assert not signing.valid("s3cret", expected.upper(), *args, "key-1")
    assert not signing.valid("other", expected, *args, "key-1")
    assert not signing.valid("s3cret", expected, "1700000000", "POST", "/api/v1/payments", b"{ }", "key-1")
    # The Idempotency-Key is covered: another key, or none, does not verify.
    assert not signing.valid("s3cret", expected, *args, "key-2")
    assert not signing.valid("s3cret", expected, *args, None)
    # Without a key its field is empty.
    no_key = hmac.new(b"s3cret", b"1700000000\nGET\n/x\n\n", hashlib.sha256).hexdigest()
    assert signing.sign("s3cret", "1700000000", "GET", "/x", b"") == no_key


@pytest.mark.parametrize(
    ("method", "target", "body", "key"),
    [
        ("POST", "/api/v1/payments", b'{"amount":1}', "k-1"),
        ("POST", "/api/v1/payments/p/refunds", b'{"amount":1}', None),
        ("get", "/api/v1/accounts/u1?currency=EUR", b"", None),
    ],
)
def test_the_load_generator_signs_as_the_gateway_verifies(
    method: str, target: str, body: bytes, key: str | None
) -> None:
    headers = load_signing.signed_headers("key", "s3cret", method, target, body, key)
    assert headers["X-Api-Key"] == "key"
    assert headers.get("Idempotency-Key") == key
    timestamp = headers["X-Timestamp"]
    assert headers["X-Signature"] == signing.sign("s3cret", timestamp, method, target, body, key)
    assert signing.valid("s3cret", headers["X-Signature"], timestamp, method, target, body, key)
    assert not signing.valid("s3cret", headers["X-Signature"], timestamp, method, target, body, "other")


def test_the_client_signs_the_idempotency_key_it_sends() -> None:
    client = GatewayClient("http://127.0.0.1:1", "key", "s3cret")
    sent: dict[str, Any] = {}

    def capture(method: str, url: str, **kwargs: Any) -> None:
        sent.update(kwargs["headers"])

    client.session.request = capture  # type: ignore[method-assign,assignment]
    client.send("POST", "/api/v1/payments", body=b"{}", headers={"Idempotency-Key": "k-7"})
    assert sent["Idempotency-Key"] == "k-7"
    assert signing.valid(
        "s3cret", sent["X-Signature"], sent["X-Timestamp"], "POST", "/api/v1/payments", b"{}", "k-7"
    )


def test_client_never_signs_the_same_request_twice_with_one_signature() -> None:
    client = GatewayClient("http://127.0.0.1:1", "key", "secret")
    stamps = [client._timestamp_for("POST", "/api/v1/payments", b"{}") for _ in range(50)]
    assert len(set(stamps)) == 50
    assert max(stamps) - min(stamps) == 49
    # Another request may use the current second again.
    assert client._timestamp_for("POST", "/api/v1/payments", b'{"a": 1}') == max(stamps)


def test_credentials_stay_out_of_reprs() -> None:
    assert "secret-value" not in repr(GatewayClient("http://x", "key-value", "secret-value"))
    assert "key-value" not in repr(SigningAuth("key-value", "secret-value"))


VALID = {"user_id": "u1", "amount": 100, "currency": "EUR", "payment_method": "wallet"}


def test_valid_payment_is_accepted_with_optional_description() -> None:
    model = validation.validate(validation.PaymentRequest, {**VALID, "description": "x" * 255})
    assert model.amount == 100 and model.description == "x" * 255
    assert validation.validate(validation.PaymentRequest, VALID).model_dump(exclude_none=True) == VALID


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 1.0}, "amount"),
        ({"amount": False}, "amount"),
        ({"amount": "1"}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": 100_000_001}, "amount"),
        ({"currency": "XBT"}, "currency"),
        ({"payment_method": "CARD"}, "payment_method"),
        ({"user_id": "x" * 65}, "user_id"),
        ({"extra": 1}, "extra"),
    ],
)
def test_invalid_payment_fields_are_422_naming_the_field(change: dict[str, object], field: str) -> None:
    with pytest.raises(ApiError) as caught:
        validation.validate(validation.PaymentRequest, {**VALID, **change})
    assert (caught.value.status, caught.value.field) == (422, field)
    assert caught.value.message.startswith(f"{field}: ")


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b"1", b'{"a": Infinity}', b"\xc3\x28", b"[" * 100_000])
def test_malformed_json_is_400(body: bytes) -> None:
    with pytest.raises(ApiError) as caught:
        validation.parse_json(body)
    assert caught.value.status == 400


@pytest.mark.parametrize(("key", "ok"), [("a", True), ("k" * 255, True), ("k" * 256, False), ("a\nb", False)])
def test_idempotency_key_bounds(key: str, ok: bool) -> None:
    if ok:
        assert validation.idempotency_key(key, required=True) == key
    else:
        with pytest.raises(ApiError):
            validation.idempotency_key(key, required=True)
    assert validation.idempotency_key(None, required=False) is None
