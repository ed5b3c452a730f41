"""The request signature of the public API, shared by the gateway (verifying) and clients (signing).

X-Signature = lowercase hex HMAC-SHA256, keyed by the merchant's secret, of
"{timestamp}\\n{METHOD}\\n{path}\\n{raw body}", where path is the request target exactly as sent
(the path and, when there is one, "?" and the query string) and timestamp is X-Timestamp.
"""

from __future__ import annotations

import hashlib
import hmac

# How far X-Timestamp may be from the gateway's clock, either way.
TIMESTAMP_WINDOW_S = 300


def message(timestamp: str, method: str, path: str, body: bytes) -> bytes:
    return f"{timestamp}\n{method.upper()}\n{path}\n".encode() + body


def sign(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    return hmac.new(secret.encode(), message(timestamp, method, path, body), hashlib.sha256).hexdigest()


def valid(secret: str, signature: str, timestamp: str, method: str, path: str, body: bytes) -> bool:
    expected = sign(secret, timestamp, method, path, body)
    # Constant-time comparison: timing must not reveal how many leading characters matched.
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))
