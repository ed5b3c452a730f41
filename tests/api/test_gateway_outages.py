"""The gateway's own dependencies down: Redis (the rate limiter only) and PostgreSQL (the merchant
store). A second gateway is started against an address where nothing listens. Without Redis it
still serves, and replays stay harmless; without PostgreSQL it answers 503 with the JSON error
body, never a 500, and moves no money."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from apps.common import internal_auth
from apps.gateway.client import GatewayClient
from obsctl.run.stack.services import Service
from obsctl.run.stack.wait import free_port
from tests.api.conftest import MoneyPath, assert_error

# These need the whole money path (make test-unit leaves them out).
pytestmark = pytest.mark.slow


class LiveService(Service):
    """Ready when alive (/healthz): /readyz rightly fails while a dependency is down."""

    def ready(self) -> bool:
        return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200


@pytest.fixture(scope="module")
def broken_gateway(money_path: MoneyPath, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    state: Path = tmp_path_factory.mktemp("gateways")
    nowhere = free_port()  # nothing listens there
    env = {k: v for k, v in money_path.env.items() if k.endswith("_URL")}
    env[internal_auth.SECRET_VARIABLE] = money_path.internal_secret  # it calls the stack's services
    started = []

    def start(name: str, **overrides: str) -> Service:
        # Its own state directory: its own pid record and log, apart from the money path's gateway.
        service = LiveService(state / name, "gateway", stack_env={**env, **overrides}, instrumented=False)
        service.start(free_port())
        started.append(service)
        return service

    gateways = {
        "redis": start("gateway-no-redis", REDIS_URL=f"redis://127.0.0.1:{nowhere}/0"),
        "postgres": start(
            "gateway-no-postgres",
            DATABASE_URL=f"postgresql://postgres@127.0.0.1:{nowhere}/payments",
            DB_POOL_TIMEOUT_S="0.5",
        ),
        # Signs its calls with a secret the services do not share: they refuse them.
        "internal-secret": start("gateway-wrong-secret", **{internal_auth.SECRET_VARIABLE: "not-the-stacks"}),
    }
    yield gateways  # type: ignore[misc]
    for service in started:
        service.stop()


def client_for(money_path: MoneyPath, service: Service) -> GatewayClient:
    return GatewayClient(service.url, money_path.client.api_key, money_path.client.api_secret)


def test_without_redis_the_gateway_serves_and_replays_stay_harmless(
    money_path: MoneyPath, broken_gateway
) -> None:  # type: ignore[no-untyped-def]
    client = client_for(money_path, broken_gateway["redis"])
    user = money_path.new_user(10_000)
    paid = client.create_payment(money_path.payment(user, 100), idempotency_key="no-redis-1")
    assert paid.status_code == 201, paid.text
    # Replay protection needs no Redis: another key fails the signature, the same bytes replay.
    other = paid.request.copy()
    other.headers["Idempotency-Key"] = "no-redis-2"
    assert_error(client.session.send(other, timeout=15), 401, "invalid_signature")
    same = client.session.send(paid.request.copy(), timeout=15)
    assert (same.status_code, same.content) == (201, paid.content)
    assert money_path.payments_of(user) == 1
    assert money_path.balance(user) == 10_000 - 100
    assert_error(client.send("GET", "/api/v1/payments/x", sign=False), 401, "missing_api_key")
    # Only the rate limiter is missing: the gateway stays in rotation and says so.
    ready = requests.get(broken_gateway["redis"].url + "/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"]["redis"].startswith("degraded"), ready.json()


def test_without_postgres_signed_calls_are_503(money_path: MoneyPath, broken_gateway) -> None:  # type: ignore[no-untyped-def]
    client = client_for(money_path, broken_gateway["postgres"])
    user = money_path.new_user(10_000)
    before = money_path.snapshot()
    started = time.monotonic()
    assert_error(client.create_payment(money_path.payment(user, 100)), 503, "dependency_unavailable")
    assert time.monotonic() - started < 10  # well inside the gateway's own deadline
    assert money_path.snapshot() == before


def test_internal_calls_refused_by_the_services_are_503_not_passed_on(
    money_path: MoneyPath, broken_gateway
) -> None:  # type: ignore[no-untyped-def]
    """A gateway whose internal secret is wrong: payment and account refuse its calls (401). That is
    our misconfiguration, not the merchant's: 503, and nothing moves."""
    client = client_for(money_path, broken_gateway["internal-secret"])
    user = money_path.new_user(10_000)
    before = money_path.snapshot()
    assert_error(client.create_payment(money_path.payment(user, 100)), 503, "dependency_unavailable")
    assert_error(client.balance(user, money_path.currency), 503, "dependency_unavailable")
    assert money_path.snapshot() == before
