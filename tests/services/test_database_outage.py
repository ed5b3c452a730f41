"""PostgreSQL stopped and started again under the payment and account services (real gunicorn).

While it is down every answer is a 503 with the JSON error body, never a 500; after it is back the
pools hand out only live connections (psycopg_pool's check), so the first requests succeed.
The cluster is this module's own (not the session's): stopping it disturbs no other test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from obsctl.run.stack.postgres import Postgres
from tests.services.payment_harness import MERCHANT, PaymentServices

# Starts its own PostgreSQL and four services.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def own_postgres(state_dir_factory: Any) -> Iterator[Postgres]:
    server = Postgres(state_dir_factory())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def services(
    own_postgres: Postgres, redis_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PaymentServices]:
    log_dir: Path = tmp_path_factory.mktemp("database-outage")
    dsn = own_postgres.create_database("outage")
    from apps.common.migrate import migrate

    migrate(dsn)
    s = PaymentServices(dsn, redis_server.url, log_dir)
    try:
        # One worker each: every request after the restart meets the connections the warm-up left.
        # A pool timeout above psycopg_pool's delay (about 1 s) before it tries again after a
        # failed check: the first request after the restart waits for a fresh connection.
        s.start("account", {"DB_POOL_TIMEOUT_S": "1.5"}, workers=1)
        s.start("risk", {"RISK_VELOCITY_MAX": "1000000", "RISK_FIRST_PAYMENT_POINTS": "0"}, workers=1)
        s.start("channel", {"CHANNEL_LATENCY_MS": "5", "CHANNEL_LATENCY_SIGMA": "0.3"}, workers=1)
        s.start_payment(workers=1, DB_POOL_TIMEOUT_S="1.5")
        yield s
    finally:
        s.close()


def balance_read(s: PaymentServices, user: str) -> requests.Response:
    return requests.get(
        f"{s.urls['account']}/v1/accounts/{user}",
        params={"currency": "EUR"},
        auth=s.as_caller("gateway"),
        timeout=10,
    )


def assert_json_503(answer: requests.Response) -> None:
    assert answer.status_code == 503, (answer.status_code, answer.text)
    assert answer.headers["Content-Type"].startswith("application/json")
    error = answer.json()["error"]
    assert {"code", "message", "field"} <= set(error) and error["code"] == "dependency_unavailable", error


def test_postgres_down_is_503_with_the_json_body_never_500(
    services: PaymentServices, own_postgres: Postgres
) -> None:
    user = services.new_users(1, 10_000)[0]
    paid = services.pay(user, 100)
    assert paid.status_code == 201, paid.text
    own_postgres.stop()
    try:
        assert_json_503(services.pay(user, 100))
        assert_json_503(
            requests.get(
                f"{services.payment}/v1/payments/{paid.json()['payment_id']}",
                headers={"X-Merchant-Id": MERCHANT},
                auth=services.as_caller("gateway"),
                timeout=10,
            )
        )
        assert_json_503(services.refund(paid.json()["payment_id"], 10))
        assert_json_503(balance_read(services, user))
        debit = {"payment_id": str(uuid.uuid4()), "user_id": user, "currency": "EUR", "amount": 1}
        debit_call = requests.post(
            f"{services.urls['account']}/v1/ledger/debits",
            json=debit,
            auth=services.as_caller("payment"),
            timeout=10,
        )
        assert_json_503(debit_call)
    finally:
        own_postgres.start()


def test_pools_hand_out_live_connections_after_a_postgres_restart(
    services: PaymentServices, own_postgres: Postgres
) -> None:
    user = services.new_users(1, 10_000)[0]
    # Warm the pools: each service holds idle connections to the cluster that is about to go away.
    for _ in range(3):
        assert balance_read(services, user).status_code == 200
        warm = services.pay(user, 10)
        assert warm.status_code == 201, warm.text
    own_postgres.stop()
    own_postgres.start()  # the same port; nothing was sent meanwhile
    reads = [balance_read(services, user).status_code for _ in range(5)]
    payments = [services.pay(user, 10) for _ in range(3)]
    assert reads == [200] * 5, reads
    assert [p.status_code for p in payments] == [201] * 3, [p.text for p in payments]
    assert services.balance(user) == 10_000 - 6 * 10
