"""Validation of public requests: strict pydantic models and the error each failure maps to.

Strict mode (apps.common.validation.StrictModel): an amount must be a JSON integer (not 10.0, not
"10", not true), strings must be strings, and unknown fields are refused, so a typo never silently
drops a field. An invalid field is 422 with the public API's code, invalid_field.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, Field, field_validator

from apps.common.errors import ApiError
from apps.common.validation import Description, StrictModel, UserId, has_control_characters, parse

# The public API's code for an invalid field (internal services answer invalid_request).
INVALID_FIELD = "invalid_field"

# ISO 4217 codes the platform settles in.
SUPPORTED_CURRENCIES = (
    "AUD", "BRL", "CAD", "CHF", "CZK", "DKK", "EUR", "GBP", "HKD", "INR",
    "JPY", "MXN", "NOK", "NZD", "PLN", "SEK", "SGD", "USD", "ZAR",
)  # fmt: skip
PAYMENT_METHODS = ("card", "wallet", "bank_transfer")
MAX_AMOUNT = 100_000_000
MAX_BODY_BYTES = 16 * 1024

# Visible ASCII and spaces: an idempotency key travels in headers, logs of other hops and Redis keys.
_IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}")
# Ids in paths: what the services issue (letters, digits, '-', '_'); anything else cannot exist.
_PATH_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
Amount = Annotated[int, Field(ge=1, le=MAX_AMOUNT)]


def _check_currency(value: str) -> str:
    if value not in SUPPORTED_CURRENCIES:
        raise ValueError(f"must be one of the supported ISO 4217 codes: {', '.join(SUPPORTED_CURRENCIES)}")
    return value


class PaymentRequest(StrictModel):
    user_id: UserId
    amount: Amount
    currency: str
    payment_method: Literal["card", "wallet", "bank_transfer"]
    description: Description | None = None

    _currency = field_validator("currency")(_check_currency)


class RefundRequest(StrictModel):
    amount: Amount


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; ApiError(400) when it is not one."""
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ApiError(400, "invalid_json", "the request body is not valid JSON") from None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_json", "the request body must be a JSON object") from None
    return value


M = TypeVar("M", bound=BaseModel)


def validate(model: type[M], data: dict[str, Any]) -> M:
    """The validated model; ApiError(422, invalid_field) naming the first invalid field otherwise."""
    return parse(model, data, INVALID_FIELD)


def idempotency_key(value: str | None, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise ApiError(
                400, "missing_idempotency_key", "the Idempotency-Key header is required", "Idempotency-Key"
            )
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(value):
        raise ApiError(
            400,
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 printable ASCII characters",
            "Idempotency-Key",
        )
    return value


def path_user_id(value: str) -> str:
    """A user id from a path: what PaymentRequest would accept, else it cannot exist (404)."""
    if not (1 <= len(value) <= 64) or has_control_characters(value):
        raise ApiError(404, "account_not_found", "account not found")
    return value


def path_id(value: str, what: str) -> str:
    if not _PATH_ID.fullmatch(value):
        raise ApiError(404, "not_found", f"{what} not found")
    return value


def currency_param(value: str | None) -> str:
    if not value:
        raise ApiError(422, INVALID_FIELD, "currency: this query parameter is required", "currency")
    try:
        return _check_currency(value)
    except ValueError as exc:
        raise ApiError(422, INVALID_FIELD, f"currency: {exc}", "currency") from None
