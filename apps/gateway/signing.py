"""The request signature of the public API, shared by the gateway (verifying) and clients (signing).

X-Signature = lowercase hex HMAC-SHA256, keyed by the merchant's secret, of
"{timestamp}\\n{METHOD}\\n{target}\\n{idempotency key}\\n{raw body}", where target is the request
target exactly as sent (the path and, when there is one, "?" and the query string), timestamp is
X-Timestamp and the idempotency key is the Idempotency-Key header (empty when there is none).

The key is signed so that a captured request cannot be sent again under another key: the key is
what makes a retry the same request, and the payment service stores its answer per key durably.
A key never contains a newline (the gateway refuses it), so the fields cannot run into each other.
"""

from __future__ import annotations

import hashlib
import hmac

# How far X-Timestamp may be from the gateway's clock, either way.
TIMESTAMP_WINDOW_S = 300


def message(timestamp: str, method: str, path: str, body: bytes, idempotency_key: str | None = None) -> bytes:
    return f"{timestamp}\n{method.upper()}\n{path}\n{idempotency_key or ''}\n".encode() + body


def sign(
    secret: str, timestamp: str, method: str, path: str, body: bytes, idempotency_key: str | None = None
) -> str:
    payload = message(timestamp, method, path, body, idempotency_key)
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def valid(
    secret: str,
    signature: str,
    timestamp: str,
    method: str,
    path: str,
    body: bytes,
    idempotency_key: str | None = None,
) -> bool:
    expected = sign(secret, timestamp, method, path, body, idempotency_key)
    # Constant-time comparison: timing must not reveal how many leading characters matched.
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
