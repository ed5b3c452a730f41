"""A small client of the public API that signs every request (tests, the load generator, the demo).

    client = GatewayClient(url, api_key, api_secret)
    response = client.create_payment({"user_id": ..., "amount": 1000, ...}, idempotency_key="k1")

Every call is signed afresh: the timestamp (whole seconds), method, target, Idempotency-Key and
body. Sending the same signed request again is a retry and gets the idempotent answer
(docs/gateway.md). A refund sent without a key is identified by its signature, so two refunds
meant to be distinct but identical in every signed byte would be one; the client therefore never
reuses a (timestamp, request) pair and steps the timestamp back a second instead (still well
inside the gateway's 300 s window).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any

import requests
import requests.auth

from apps.gateway import signing


def signed_headers(
    api_key: str,
    api_secret: str,
    method: str,
    target: str,
    body: bytes,
    timestamp: int | None = None,
    idempotency_key: str | None = None,
) -> dict[str, str]:
    """X-Api-Key, X-Timestamp and X-Signature; the Idempotency-Key header, when the request has
    one, must be sent exactly as `idempotency_key` (it is signed)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "X-Api-Key": api_key,
        "X-Timestamp": stamp,
        "X-Signature": signing.sign(api_secret, stamp, method, target, body, idempotency_key),
    }


def _header_text(value: str | bytes | None) -> str | None:
    # A header given as bytes reaches the gateway as those bytes, which it reads as latin-1.
    return value.decode("latin-1") if isinstance(value, bytes) else value


class Timestamps:
    """Timestamps that never give one request the same signature twice: the current second, or an
    earlier one if this exact request (method, target, body) was already signed with it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._signed: OrderedDict[tuple[int, str], None] = OrderedDict()

    def next_for(self, method: str, target: str, body: bytes, idempotency_key: str | None = None) -> int:
        digest = hashlib.sha256(f"{method}\n{target}\n{idempotency_key or ''}\n".encode() + body).hexdigest()
        now = int(time.time())
        with self._lock:
            timestamp = now
            while (timestamp, digest) in self._signed and now - timestamp < 250:
                timestamp -= 1
            self._signed[(timestamp, digest)] = None
            while len(self._signed) > 100_000 or (self._signed and next(iter(self._signed))[0] < now - 600):
                self._signed.popitem(last=False)
        return timestamp


class GatewayClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        session: requests.Session | None = None,
        timeout_s: float = 15.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.api_secret = api_secret
        self.session = session or requests.Session()
        self.timeout_s = timeout_s
        self._timestamps = Timestamps()

    def _timestamp_for(
        self, method: str, target: str, body: bytes, idempotency_key: str | None = None
    ) -> int:
        return self._timestamps.next_for(method, target, body, idempotency_key)

    def __repr__(self) -> str:  # the key and secret stay out of reprs and tracebacks
        return f"GatewayClient({self.base_url!r})"

    def send(
        self,
        method: str,
        target: str,
        *,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        sign: bool = True,
    ) -> requests.Response:
        """Send raw bytes to `target` (path and query, exactly as signed)."""
        all_headers = {"Content-Type": "application/json"} if body else {}
        if sign:
            key = _header_text((headers or {}).get("Idempotency-Key"))
            timestamp = self._timestamp_for(method, target, body, key)
            all_headers.update(
                signed_headers(self.api_key, self.api_secret, method, target, body, timestamp, key)
            )
        all_headers.update(headers or {})
        return self.session.request(
            method, self.base_url + target, data=body, headers=all_headers, timeout=self.timeout_s
        )

    def create_payment(
        self, payment: dict[str, Any], *, idempotency_key: str | None = None
    ) -> requests.Response:
        body = json.dumps(payment).encode()
        key = idempotency_key or uuid.uuid4().hex
        return self.send("POST", "/api/v1/payments", body=body, headers={"Idempotency-Key": key})

    def get_payment(self, payment_id: str) -> requests.Response:
        return self.send("GET", f"/api/v1/payments/{payment_id}")

    def refund(
        self, payment_id: str, amount: int, *, idempotency_key: str | None = None
    ) -> requests.Response:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        body = json.dumps({"amount": amount}).encode()
        return self.send("POST", f"/api/v1/payments/{payment_id}/refunds", body=body, headers=headers)

    def balance(self, user_id: str, currency: str) -> requests.Response:
        return self.send("GET", f"/api/v1/accounts/{user_id}?currency={currency}")


class SigningAuth(requests.auth.AuthBase):
    """requests auth that signs whatever request it is attached to (for tools that build their own
    requests, such as schemathesis or a load generator): `session.auth = SigningAuth(key, secret)`."""

    def __init__(self, api_key: str, api_secret: str):
        self.api_key = api_key
        self.api_secret = api_secret
        self._timestamps = Timestamps()

    def __repr__(self) -> str:
        return "SigningAuth(...)"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        method, target = str(request.method), request.path_url
        key = _header_text(request.headers.get("Idempotency-Key"))
        timestamp = self._timestamps.next_for(method, target, bytes(body), key)
        request.headers.update(
            signed_headers(self.api_key, self.api_secret, method, target, bytes(body), timestamp, key)
        )
        return request
