"""The money path with Kafka: a tansu of its own (so it can be stopped and restarted), the payment
service with its outbox relay, and the notification consumer, all under real gunicorn.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from apps.common.migrate import migrate
from obsctl.run.stack.tansu import Tansu
from tests.services.payment_harness import PaymentServices


@pytest.fixture(scope="module")
def events_broker(stack_state_dir: Path) -> Iterator[Tansu]:
    broker = Tansu(stack_state_dir, name="tansu-events")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def event_services(
    postgres: object, redis_server: object, events_broker: Tansu, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PaymentServices]:
    dsn = postgres.create_database("events_money_path")  # type: ignore[attr-defined]
    migrate(dsn)
    services = PaymentServices(dsn, redis_server.url, tmp_path_factory.mktemp("events-logs"))  # type: ignore[attr-defined]
    kafka = {"KAFKA_BOOTSTRAP": events_broker.bootstrap}
    try:
        services.start("account", {})
        services.start("risk", {"RISK_VELOCITY_MAX": "1000000", "RISK_FIRST_PAYMENT_POINTS": "0"})
        services.start("channel", {"CHANNEL_LATENCY_MS": "5", "CHANNEL_LATENCY_SIGMA": "0.3"}, workers=1)
        services.start("payment", services.payment_env(**kafka))
        # One consumer per process: a second one would only trigger group rebalances.
        services.start("notification", kafka, workers=1)
        yield services
    finally:
        services.close()
