"""Locust user for the payment API: signed payments, refunds and reads in a realistic mix.

Configured by environment (obsctl load and obsctl bench set these from .local/stack.env):
GATEWAY_URL, DEMO_API_KEY, DEMO_API_SECRET, DEMO_USER_IDS, DEMO_CURRENCY, and
LOAD_USER_RATE (requests per second per simulated user; 0 means as fast as possible, for a
fixed-concurrency benchmark) and LOAD_MIX ("payments" for payments only).
"""

from __future__ import annotations

import json
import os
import random
import uuid

from locust import FastHttpUser, constant, constant_throughput, task

from obsctl.run.load import signing
from obsctl.run.load.failures import failure_text

API_KEY = os.environ.get("DEMO_API_KEY", "")
API_SECRET = os.environ.get("DEMO_API_SECRET", "")
USER_IDS = [u for u in os.environ.get("DEMO_USER_IDS", "").split(",") if u]
CURRENCY = os.environ.get("DEMO_CURRENCY", "EUR")
USER_RATE = float(os.environ.get("LOAD_USER_RATE", "1"))
PAYMENTS_ONLY = os.environ.get("LOAD_MIX", "") == "payments"
METHODS = ("card", "card", "card", "wallet", "bank_transfer")
SIGNING_SCHEME = os.environ.get(signing.SCHEME_VARIABLE, "v2")


def signed_headers(method: str, path: str, body: bytes, idempotency_key: str | None) -> dict[str, str]:
    # Every POST gets its own Idempotency-Key, which the signature covers: each payment and refund
    # is a new one, and a repeated read is simply served (reads are never refused as replays).
    return signing.signed_headers(API_KEY, API_SECRET, method, path, body, idempotency_key, SIGNING_SCHEME)


class PaymentUser(FastHttpUser):
    wait_time = constant_throughput(USER_RATE) if USER_RATE > 0 else constant(0)

    def on_start(self) -> None:
        self.succeeded: list[tuple[str, int]] = []

    def _signed(self, method: str, path: str, payload: dict[str, object] | None, name: str) -> object:
        body = json.dumps(payload, separators=(",", ":")).encode() if payload is not None else b""
        headers = signed_headers(method, path, body, uuid.uuid4().hex if method == "POST" else None)
        # 402 (declined) is a valid business answer, not a failed request.
        with self.client.request(
            method, path, data=body.decode() or None, headers=headers, name=name, catch_response=True
        ) as response:
            if response.status_code in (200, 201, 402):
                response.success()
            else:
                response.failure(failure_text(response.status_code, response.text))
            return response

    @task(16)
    def pay(self) -> None:
        amount = random.choice((199, 500, 1250, 2999, 4999, 10000, 25000))
        payload = {
            "user_id": random.choice(USER_IDS),
            "amount": amount,
            "currency": CURRENCY,
            "payment_method": random.choice(METHODS),
            "description": "load test",
        }
        response = self._signed("POST", "/api/v1/payments", payload, "POST /api/v1/payments")
        if getattr(response, "status_code", 0) == 201 and len(self.succeeded) < 50:
            self.succeeded.append((response.json()["payment_id"], amount))  # type: ignore[attr-defined]

    @task(2)
    def refund(self) -> None:
        if PAYMENTS_ONLY or not self.succeeded:
            return
        payment_id, amount = self.succeeded.pop(random.randrange(len(self.succeeded)))
        path = f"/api/v1/payments/{payment_id}/refunds"
        self._signed("POST", path, {"amount": max(1, amount // 2)}, "POST /api/v1/payments/{id}/refunds")

    @task(2)
    def read(self) -> None:
        if PAYMENTS_ONLY:
            return
        if self.succeeded and random.random() < 0.5:
            payment_id = random.choice(self.succeeded)[0]
            path = f"/api/v1/payments/{payment_id}"
            self._signed("GET", path, None, "GET /api/v1/payments/{id}")
        else:
            user = random.choice(USER_IDS)
            path = f"/api/v1/accounts/{user}?currency={CURRENCY}"
            self._signed("GET", path, None, "GET /api/v1/accounts/{user_id}")
