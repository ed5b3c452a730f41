"""The gateway's own dependencies down: Redis (replay protection, rate limit) and PostgreSQL (the
merchant store). A second gateway is started against an address where nothing listens; it must
answer 503 with the JSON error body, never a 500, and move no money."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

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
    }
    yield gateways  # type: ignore[misc]
    for service in started:
        service.stop()


def client_for(money_path: MoneyPath, service: Service) -> GatewayClient:
    return GatewayClient(service.url, money_path.client.api_key, money_path.client.api_secret)


def test_without_redis_signed_calls_are_503_not_replayable(money_path: MoneyPath, broken_gateway) -> None:  # type: ignore[no-untyped-def]
    client = client_for(money_path, broken_gateway["redis"])
    user = money_path.new_user(10_000)
    before = money_path.snapshot()
    assert_error(client.create_payment(money_path.payment(user, 100)), 503, "dependency_unavailable")
    assert money_path.snapshot() == before
    # Authentication failures need no Redis and stay 401.
    assert_error(client.send("GET", "/api/v1/payments/x", sign=False), 401, "missing_api_key")
    assert requests.get(broken_gateway["redis"].url + "/readyz", timeout=5).status_code == 503


def test_without_postgres_signed_calls_are_503(money_path: MoneyPath, broken_gateway) -> None:  # type: ignore[no-untyped-def]
    client = client_for(money_path, broken_gateway["postgres"])
    user = money_path.new_user(10_000)
    before = money_path.snapshot()
    started = time.monotonic()
    assert_error(client.create_payment(money_path.payment(user, 100)), 503, "dependency_unavailable")
    assert time.monotonic() - started < 10  # well inside the gateway's own deadline
    assert money_path.snapshot() == before
