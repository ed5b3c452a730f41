"""The account service under a real gunicorn with two workers: its /metrics is exactly its catalog."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import requests

from apps.account.seed import open_account
from tests.services.service_harness import (
    catalog_shape,
    drive_until_every_worker_served,
    exposed_shape,
    samples,
    signed_as,
)


def test_metrics_match_the_catalog_across_two_workers(
    run_gunicorn: Callable[..., str], ledger_dsn: str, tmp_path: Path
) -> None:
    user = f"gu-{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ledger_dsn) as conn:
        open_account(conn, user, "EUR", 1_000_000)
    url = run_gunicorn("account", {"DATABASE_URL": ledger_dsn})
    assert requests.get(f"{url}/readyz", timeout=5).status_code == 200

    def debit() -> None:
        body = {"payment_id": uuid.uuid4().hex, "user_id": user, "currency": "EUR", "amount": 1}
        assert (
            requests.post(
                f"{url}/v1/ledger/debits", json=body, auth=signed_as("payment"), timeout=10
            ).status_code
            == 201
        )

    sent = drive_until_every_worker_served(debit, tmp_path / "account-metrics")
    # One failure mode too, so the error-path labels are exercised.
    assert (
        requests.post(
            f"{url}/v1/ledger/debits", json={"amount": 1.5}, auth=signed_as("payment"), timeout=5
        ).status_code
        == 422
    )

    text = requests.get(f"{url}/metrics", timeout=5).text
    assert exposed_shape(text) == catalog_shape("account")
    values = samples(text)
    # Both workers' samples are summed: every request is counted once, whichever worker served it.
    applied = values[("ledger_operations_total", (("operation", "debit"), ("result", "applied")))]
    assert applied == sent
    route_count = values[
        (
            "http_server_request_duration_seconds_count",
            (
                ("http_request_method", "POST"),
                ("http_response_status_code", "201"),
                ("http_route", "/v1/ledger/debits"),
            ),
        )
    ]
    assert route_count == sent
    with psycopg.connect(ledger_dsn) as conn:
        assert conn.execute("SELECT balance FROM ledger.accounts WHERE user_id = %s", (user,)).fetchone() == (
            1_000_000 - sent,
        )
