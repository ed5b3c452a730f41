"""The gateway's pure parts, without servers: signing, the client's signatures, validation."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from apps.common.errors import ApiError
from apps.gateway import signing, validation
from apps.gateway.client import GatewayClient, SigningAuth
from obsctl.run.load import signing as load_signing


def test_signature_is_hmac_sha256_of_the_documented_message() -> None:
    expected = hmac.new(b"s3cret", b"1700000000\nPOST\n/api/v1/payments\n{}", hashlib.sha256).hexdigest()
    assert signing.sign("s3cret", "1700000000", "post", "/api/v1/payments", b"{}") == expected
    assert signing.valid("s3cret", expected, "1700000000", "POST", "/api/v1/payments", b"{}")
    assert not signing.valid("s3cret", expected.upper(), "1700000000", "POST", "/api/v1/payments", b"{}")
    assert not signing.valid("other", expected, "1700000000", "POST", "/api/v1/payments", b"{}")
    assert not signing.valid("s3cret", expected, "1700000000", "POST", "/api/v1/payments", b"{ }")


@pytest.mark.parametrize(
    ("method", "target", "body"),
    [("POST", "/api/v1/payments", b'{"amount":1}'), ("get", "/api/v1/accounts/u1?currency=EUR&nonce=x", b"")],
)
def test_the_load_generator_signs_as_the_gateway_verifies(method: str, target: str, body: bytes) -> None:
    headers = load_signing.signed_headers("key", "s3cret", method, target, body)
    assert headers["X-Api-Key"] == "key"
    assert headers["X-Signature"] == signing.sign("s3cret", headers["X-Timestamp"], method, target, body)
    assert signing.valid("s3cret", headers["X-Signature"], headers["X-Timestamp"], method, target, body)


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
