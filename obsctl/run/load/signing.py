"""The public API's request signature, as a client computes it.

The scheme is the public contract in apps/gateway/openapi.yaml (info.description): X-Signature is
the lowercase hex HMAC-SHA256, keyed by the merchant's secret, of
"{timestamp}\\n{METHOD}\\n{target}\\n{idempotency key}\\n{raw body}", where target is the request
target exactly as sent (path, and "?" and the query string when there is one), timestamp is
X-Timestamp (unix seconds) and the idempotency key is the Idempotency-Key header (empty without
one). The load generator signs like any merchant's client would, from the contract, not from the
gateway's code; tests/api checks both sides agree.
"""

from __future__ import annotations

import hashlib
import hmac
import time

# The scheme of this revision, and the one before issue 16 ("v1": the Idempotency-Key was not
# signed), which the benchmark needs to drive an older revision's gateway (`--baseline`).
SCHEMES = ("v2", "v1")
SCHEME_VARIABLE = "LOAD_SIGNING_SCHEME"


def signature(
    secret: str,
    timestamp: str,
    method: str,
    target: str,
    body: bytes,
    idempotency_key: str = "",
    scheme: str = "v2",
) -> str:
    if scheme == "v1":
        payload = f"{timestamp}\n{method.upper()}\n{target}\n".encode() + body
    else:
        payload = f"{timestamp}\n{method.upper()}\n{target}\n{idempotency_key}\n".encode() + body
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def signed_headers(
    api_key: str,
    secret: str,
    method: str,
    target: str,
    body: bytes,
    idempotency_key: str | None = None,
    scheme: str = "v2",
) -> dict[str, str]:
    """X-Api-Key, X-Timestamp (now), X-Signature and, when given, the Idempotency-Key it covers,
    for one request, and its JSON content type."""
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Api-Key": api_key,
        "X-Timestamp": timestamp,
        "X-Signature": signature(secret, timestamp, method, target, body, idempotency_key or "", scheme),
    }
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return headers
