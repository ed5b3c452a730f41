"""The whole local stack under opentelemetry-instrument, exporting through the stack's collector
(the generated collector/local.yaml) to Jaeger and VictoriaLogs.

    running = TelemetryStack.start(state_dir)     # services, stores, collector, Jaeger, VictoriaLogs
    running.pay(user, amount, description=...)    # a signed payment via the gateway
    running.jaeger.trace(trace_id), running.logs.trace_logs(trace_id)
    running.stop()

A merchant and funded users are created directly in the database (the demo seed is not needed).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

from apps.account.seed import open_account
from apps.gateway.signing import sign
from obsctl.run.stack.caller_env import overridden
from obsctl.run.stack.jaeger import Jaeger
from obsctl.run.stack.otelcol import Otelcol
from obsctl.run.stack.stack import Stack
from obsctl.run.stack.victorialogs import VictoriaLogs

CURRENCY = "EUR"


@dataclass
class TelemetryStack:
    stack: Stack
    merchant_id: str
    api_key: str
    api_secret: str
    users: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, state_dir: Path, **otel: str) -> TelemetryStack:
        stack = Stack(state_dir)
        with overridden(
            {
                "OTEL_TRACES_SAMPLER": "parentbased_always_on",
                # Many payments by one user in seconds: velocity scoring is not what these tests test.
                "RISK_VELOCITY_MAX": "1000000",
                "RISK_FIRST_PAYMENT_POINTS": "0",
                **otel,
            }
        ):
            try:
                stack.up(["otelcol", "services"])
            except BaseException:
                stack.down()
                raise
        running = cls(
            stack,
            merchant_id=f"m-{uuid.uuid4().hex[:8]}",
            api_key=f"key-{uuid.uuid4().hex}",
            api_secret=f"secret-{uuid.uuid4().hex}",
        )
        running.seed()
        return running

    @property
    def jaeger(self) -> Jaeger:
        server = self.stack.server("jaeger")
        assert isinstance(server, Jaeger)
        return server

    @property
    def logs(self) -> VictoriaLogs:
        server = self.stack.server("victorialogs")
        assert isinstance(server, VictoriaLogs)
        return server

    @property
    def collector(self) -> Otelcol:
        server = self.stack.server("otelcol")
        assert isinstance(server, Otelcol)
        return server

    @property
    def dsn(self) -> str:
        return self.stack.env()["DATABASE_URL"]

    def url(self, service: str) -> str:
        return self.stack.server(service).url

    def seed(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO gateway.merchants"
                " (merchant_id, name, api_key, api_secret, rate_limit_per_minute)"
                " VALUES (%s, %s, %s, %s, 1000000)",
                (self.merchant_id, f"merchant {uuid.uuid4().hex[:8]}", self.api_key, self.api_secret),
            )
        self.users = [self.new_user(10_000_000) for _ in range(4)]

    def new_user(self, balance: int) -> str:
        """A funded user, one of the merchant's customers (a merchant charges only its own)."""
        user = f"user-{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.dsn) as conn:
            open_account(conn, user, CURRENCY, balance)
            conn.execute(
                "INSERT INTO gateway.merchant_users (merchant_id, user_id) VALUES (%s, %s)",
                (self.merchant_id, user),
            )
        return user

    def signed(
        self, method: str, path: str, payload: dict[str, Any] | None, extra: dict[str, str] | None = None
    ) -> requests.Response:
        body = json.dumps(payload, separators=(",", ":")).encode() if payload is not None else b""
        timestamp = str(int(time.time()))
        # The signature covers the Idempotency-Key a POST carries (docs/gateway.md).
        idempotency_key = uuid.uuid4().hex if method == "POST" else None
        headers = {
            "Content-Type": "application/json",
            "X-Api-Key": self.api_key,
            "X-Timestamp": timestamp,
            "X-Signature": sign(self.api_secret, timestamp, method, path, body, idempotency_key),
        }
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        headers.update(extra or {})
        return requests.request(
            method, self.url("gateway") + path, data=body or None, headers=headers, timeout=20
        )

    def pay(self, user: str, amount: int, **fields: Any) -> requests.Response:
        payload = {
            "user_id": user,
            "amount": amount,
            "currency": CURRENCY,
            "payment_method": "card",
            **fields,
        }
        return self.signed("POST", "/api/v1/payments", payload)

    def refund(self, payment_id: str, amount: int) -> requests.Response:
        return self.signed("POST", f"/api/v1/payments/{payment_id}/refunds", {"amount": amount})

    def log_path(self, service: str) -> Path:
        return self.stack.state_dir / "logs" / f"{service}.log"

    def stop(self) -> None:
        self.stack.down()
