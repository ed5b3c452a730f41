"""Merchant authentication: API key, timestamp window, HMAC signature.

Checks run cheapest first. Each failure answers 401 with its own code and counts
gateway_auth_failures_total{reason}. Neither the key, the secret nor the signature is ever logged
or put on a span.

There is no replay store: a signed request sent again within the timestamp window is a retry, and
what it may do is decided by idempotency (docs/gateway.md, "Retries and replays"). Reads change
nothing; a payment or refund is idempotent per Idempotency-Key, which the signature covers, and
the payment service keeps each key's payment in PostgreSQL. A captured request can therefore only
get its own answer again, and nothing about that depends on Redis.
"""

from __future__ import annotations

import logging
import time

from werkzeug.datastructures import Headers

from apps.common import metrics
from apps.common.errors import ApiError
from apps.gateway import merchants, signing
from apps.gateway.merchants import Merchant

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-Api-Key"
TIMESTAMP_HEADER = "X-Timestamp"
SIGNATURE_HEADER = "X-Signature"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
# The `reason` label values of gateway_auth_failures_total (the catalog's help lists them).
FAILURE_REASONS = ("missing_key", "bad_key", "bad_signature", "stale_timestamp")


def _reject(reason: str, code: str, message: str, field: str | None) -> ApiError:
    metrics.counter("gateway_auth_failures_total").labels(reason).inc()
    log.info("authentication failed", extra={"reason": reason})
    return ApiError(401, code, message, field)


def authenticate(headers: Headers, method: str, target: str, body: bytes) -> Merchant:
    """The merchant a correctly signed request comes from; raises ApiError(401) otherwise."""
    api_key = headers.get(API_KEY_HEADER, "")
    if not api_key:
        raise _reject("missing_key", "missing_api_key", "the X-Api-Key header is required", API_KEY_HEADER)
    # Keys are short printable ASCII; anything else cannot be one (and must not reach a query).
    plausible = len(api_key) <= 128 and api_key.isascii() and api_key.isprintable()
    merchant = merchants.by_api_key(api_key) if plausible else None
    if merchant is None:
        raise _reject("bad_key", "invalid_api_key", "the API key is not known", API_KEY_HEADER)

    timestamp = headers.get(TIMESTAMP_HEADER, "")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise _reject(
            "stale_timestamp",
            "invalid_timestamp",
            "X-Timestamp must be unix time in seconds",
            TIMESTAMP_HEADER,
        )
    if abs(time.time() - int(timestamp)) > signing.TIMESTAMP_WINDOW_S:
        raise _reject(
            "stale_timestamp",
            "stale_timestamp",
            f"X-Timestamp is more than {signing.TIMESTAMP_WINDOW_S} s away from the server's clock",
            TIMESTAMP_HEADER,
        )

    signature = headers.get(SIGNATURE_HEADER, "")
    key = headers.get(IDEMPOTENCY_KEY_HEADER)
    if not signature or not signing.valid(
        merchant.api_secret, signature, timestamp, method, target, body, key
    ):
        raise _reject(
            "bad_signature",
            "invalid_signature",
            "X-Signature is not the HMAC-SHA256 of the request under the merchant's secret",
            SIGNATURE_HEADER,
        )
    return merchant
