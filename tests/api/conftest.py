"""The money path for end-to-end API tests: gateway, payment, account, risk and channel under
gunicorn on real PostgreSQL and Redis (started by obsctl.run.stack, like `make up`), one per session.

    def test_x(money_path):
        money_path.client                 # GatewayClient of the seeded demo merchant
        money_path.new_merchant(rate_limit_per_minute=3)
        money_path.snapshot()             # payment rows, refund rows, ledger movements, user balances
        with money_path.channel_faults(decline_rate=1.0): ...
"""

from __future__ import annotations

import itertools
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import requests

import catalog
from apps.account.seed import open_account
from apps.common import internal_auth
from apps.gateway.client import GatewayClient
from obsctl.run.stack.stack import Stack

# The money path: the public API and every service it calls.
SERVICES = list(catalog.default().reachable_from("gateway"))
# Risk's per-user velocity rule would reject the many payments these tests send for few users.
SERVICE_ENV = {"RISK_VELOCITY_MAX": "100000"}


@dataclass
class Snapshot:
    payments: int
    refunds: int
    movements: int
    balances: dict[tuple[str, str], int]


class MoneyPath:
    def __init__(self, stack: Stack):
        self.stack = stack
        self.env = stack.env()
        self.gateway_url = self.env["GATEWAY_URL"]
        self.dsn = self.env["DATABASE_URL"]
        self.users = self.env["DEMO_USER_IDS"].split(",")
        self.currency = self.env["DEMO_CURRENCY"]
        self.merchant_id = self.env["DEMO_MERCHANT_ID"]
        self.client = GatewayClient(self.gateway_url, self.env["DEMO_API_KEY"], self.env["DEMO_API_SECRET"])
        # The stack's internal secret: the tests sign their own calls to internal services.
        self.internal_secret = self.env[internal_auth.SECRET_VARIABLE]
        self._users = itertools.count(1)

    def url(self, service: str) -> str:
        return self.env[f"{service.upper()}_URL"]

    def new_merchant(self, rate_limit_per_minute: int = 10_000) -> GatewayClient:
        merchant_id = "merchant-" + secrets.token_hex(6)
        key, secret = "key_" + secrets.token_hex(16), secrets.token_hex(32)
        with psycopg.connect(self.dsn) as conn:
            conn.execute(
                "INSERT INTO gateway.merchants"
                " (merchant_id, name, api_key, api_secret, rate_limit_per_minute)"
                " VALUES (%s, %s, %s, %s, %s)",
                (merchant_id, merchant_id, key, secret, rate_limit_per_minute),
            )
        client = GatewayClient(self.gateway_url, key, secret)
        client.merchant_id = merchant_id  # type: ignore[attr-defined]
        return client

    def new_user(self, balance: int, *, customer_of: str | None = None) -> str:
        """A fresh funded user (no payment history), a customer of the demo merchant by default."""
        user_id = f"api-user-{secrets.token_hex(3)}-{next(self._users)}"
        with psycopg.connect(self.dsn) as conn:
            open_account(conn, user_id, self.currency, balance)
            conn.execute(
                "INSERT INTO gateway.merchant_users (merchant_id, user_id) VALUES (%s, %s)",
                (customer_of or self.merchant_id, user_id),
            )
        return user_id

    def balance(self, user_id: str) -> int:
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute(
                "SELECT balance FROM ledger.accounts WHERE kind = 'user' AND user_id = %s AND currency = %s",
                (user_id, self.currency),
            ).fetchone()
        assert row is not None
        return int(row[0])

    def payments_of(self, user_id: str) -> int:
        with psycopg.connect(self.dsn) as conn:
            query = "SELECT count(*) FROM payment.payments WHERE user_id = %s"
            row = conn.execute(query, (user_id,)).fetchone()
        assert row is not None
        return int(row[0])

    def snapshot(self) -> Snapshot:
        with psycopg.connect(self.dsn) as conn:
            counts = conn.execute(
                "SELECT (SELECT count(*) FROM payment.payments), (SELECT count(*) FROM payment.refunds),"
                " (SELECT count(*) FROM ledger.movements)"
            ).fetchone()
            rows = conn.execute(
                "SELECT user_id, currency, balance FROM ledger.accounts WHERE kind = 'user'"
            ).fetchall()
        assert counts is not None
        return Snapshot(counts[0], counts[1], counts[2], {(r[0], r[1]): r[2] for r in rows})

    def payment(self, user_id: str, amount: int = 1000, **extra: Any) -> dict[str, Any]:
        return {
            "user_id": user_id,
            "amount": amount,
            "currency": self.currency,
            "payment_method": "card",
            **extra,
        }

    def reconcile(self) -> str:
        """Run the payment reconciler once over every open record (a subprocess: its own pools)."""
        env = {**os.environ, **{k: v for k, v in self.env.items() if k.endswith("_URL")}}
        env["SERVICE_NAME"] = "payment"
        env[internal_auth.SECRET_VARIABLE] = self.internal_secret
        result = subprocess.run(
            [sys.executable, "-m", "apps.payment.reconcile", "--older-than", "0"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    @contextmanager
    def channel_faults(self, **switches: float) -> Iterator[None]:
        url = self.url("channel") + "/v1/faults"
        operator = internal_auth.InternalAuth(internal_auth.OPERATOR, self.internal_secret)
        requests.put(url, json=switches, auth=operator, timeout=5).raise_for_status()
        try:
            yield
        finally:
            requests.delete(url, auth=operator, timeout=5).raise_for_status()

    @contextmanager
    def stopped(self, service: str) -> Iterator[None]:
        """The service stopped for the block, started again (same port) afterwards."""
        self.stack.server(service).stop()
        try:
            yield
        finally:
            self.stack.up([service])


@pytest.fixture(scope="session")
def money_path(local_stack: Callable[..., Stack]) -> MoneyPath:
    # Uninstrumented: these tests are about the API, and no collector listens in the test session.
    stack = local_stack(SERVICES, instrumented=False, service_env=SERVICE_ENV)
    return MoneyPath(stack)


def assert_error(response: requests.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is `status` with the JSON error body; returns error."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"code", "message", "field"} <= set(error), error
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    assert error["field"] is None or isinstance(error["field"], str)
    if code is not None:
        assert error["code"] == code, error
    return dict(error)
