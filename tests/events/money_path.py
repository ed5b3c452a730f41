"""The services of the money path with Kafka, started on a given broker (events tests)."""

from __future__ import annotations

from pathlib import Path

from apps.common.migrate import migrate
from obsctl.run.stack.tansu import Tansu
from tests.services.payment_harness import PaymentServices


def start_money_path(
    postgres: object, redis_server: object, broker: Tansu, log_dir: Path, database: str, *, consumer: bool
) -> PaymentServices:
    """account, risk, channel and payment (with its relays) on `broker`; notification if `consumer`."""
    dsn = postgres.create_database(database)  # type: ignore[attr-defined]
    migrate(dsn)
    services = PaymentServices(dsn, redis_server.url, log_dir)  # type: ignore[attr-defined]
    kafka = {"KAFKA_BOOTSTRAP": broker.bootstrap}
    try:
        services.start("account", {})
        services.start("risk", {"RISK_VELOCITY_MAX": "1000000", "RISK_FIRST_PAYMENT_POINTS": "0"})
        services.start("channel", {"CHANNEL_LATENCY_MS": "5", "CHANNEL_LATENCY_SIGMA": "0.3"}, workers=1)
        services.start("payment", services.payment_env(**kafka))
        if consumer:
            # One consumer per process: a second one would only trigger group rebalances.
            services.start("notification", kafka, workers=1)
    except BaseException:
        services.close()
        raise
    return services
