"""The money path with Kafka: a tansu of its own (so it can be stopped and restarted), the payment
service with its outbox relay, and the notification consumer, all under real gunicorn.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from obsctl.run.stack.tansu import Tansu
from tests.events.money_path import start_money_path
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
    log_dir = tmp_path_factory.mktemp("events-logs")
    services = start_money_path(
        postgres, redis_server, events_broker, log_dir, "events_money_path", consumer=True
    )
    try:
        yield services
    finally:
        services.close()
