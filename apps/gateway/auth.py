"""Merchant authentication: API key, timestamp window, HMAC signature, replay protection.

Checks run cheapest first. Each failure answers 401 with its own code and counts
gateway_auth_failures_total{reason}. Neither the key, the secret nor the signature is ever logged
or put on a span; a replay marker in Redis is a hash of the signature, not the signature.
"""

from __future__ import annotations

import hashlib
import logging
import time

import redis
from werkzeug.datastructures import Headers

from apps.common import metrics, redis_client
from apps.common.errors import ApiError, DependencyError
from apps.gateway import merchants, signing
from apps.gateway.merchants import Merchant

log = logging.getLogger(__name__)

API_KEY_HEADER = "X-Api-Key"
TIMESTAMP_HEADER = "X-Timestamp"
SIGNATURE_HEADER = "X-Signature"
_REPLAY_PREFIX = "gateway:replay:"
# The `reason` label values of gateway_auth_failures_total (the catalog's help lists them).
FAILURE_REASONS = ("missing_key", "bad_key", "bad_signature", "stale_timestamp", "replay")


def _reject(reason: str, code: str, message: str, field: str | None) -> ApiError:
    metrics.counter("gateway_auth_failures_total").labels(reason).inc()
    log.info("authentication failed", extra={"reason": reason})
    return ApiError(401, code, message, field)


def authenticate(headers: Headers, method: str, target: str, body: bytes) -> Merchant:
    """The merchant a correctly signed request comes from; raises ApiError(401) otherwise.

    Replay protection is separate (see `mark_used`) so that a request refused by the rate limiter
    can be sent again unchanged.
    """
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
    if not signature or not signing.valid(merchant.api_secret, signature, timestamp, method, target, body):
        raise _reject(
            "bad_signature",
            "invalid_signature",
            "X-Signature is not the HMAC-SHA256 of the request under the merchant's secret",
            SIGNATURE_HEADER,
        )
    return merchant


def mark_used(signature: str, timestamp: str) -> None:
    """Record a signature as used; raises ApiError(401) when it was used before (a replay).

    The marker lives until the timestamp leaves the acceptance window, after which the timestamp
    check alone rejects the request. Without Redis the gateway cannot tell a replay, so it refuses
    (503) rather than let a captured request through.
    """
    ttl = max(1, int(timestamp) + signing.TIMESTAMP_WINDOW_S - int(time.time()) + 1)
    key = _REPLAY_PREFIX + hashlib.sha256(signature.encode("utf-8", "replace")).hexdigest()
    try:
        with redis_client.operation("gateway_replay_mark") as r:
            fresh = r.set(key, b"1", nx=True, ex=ttl)
    except redis.RedisError as exc:
        raise DependencyError("redis", "unavailable", "replay protection store unreachable") from exc
    if not fresh:
        raise _reject("replay", "replayed_request", "this signature was already used", SIGNATURE_HEADER)
