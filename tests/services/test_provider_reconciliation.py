"""Issue 16, finding 3: the provider-side reconciliation voids approved charges without a payment.

A PostgreSQL crash with asynchronous commits lost an answered payment (no row, no debit) whose
charge the provider had approved: nothing compared the provider's side with ours. Here the
provider holds such charges (approved for payment ids we have no row for, and for a payment that
failed), next to payments that succeeded; one pass of `python -m apps.payment.provider_reconcile`
voids exactly the first two kinds, leaves the rest, respects the grace period and repeats safely.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from apps.common.migrate import migrate
from tests.services.payment_harness import MERCHANT, PaymentServices

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def services(
    postgres: Any, redis_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PaymentServices]:
    dsn = postgres.create_database("provider_reconciliation")
    migrate(dsn)
    s = PaymentServices(dsn, redis_server.url, tmp_path_factory.mktemp("provider-reconciliation"))
    try:
        s.start("account", {}, workers=1)
        s.start("risk", {"RISK_VELOCITY_MAX": "1000000", "RISK_FIRST_PAYMENT_POINTS": "0"}, workers=1)
        s.start("channel", {"CHANNEL_LATENCY_MS": "5", "CHANNEL_LATENCY_SIGMA": "0.3"}, workers=1)
        s.start_payment(workers=1)
        yield s
    finally:
        s.close()


def provider_charge(s: PaymentServices, payment_id: str, amount: int = 700) -> None:
    """What the provider approved for a payment, as the payment service asked for it."""
    answer = requests.post(
        f"{s.urls['channel']}/v1/charges",
        json={"payment_id": payment_id, "amount": amount, "currency": "EUR", "channel": "card"},
        auth=s.as_caller("payment"),
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["status"] == "approved", answer.text


def charge_status(s: PaymentServices, payment_id: str) -> str:
    answer = requests.get(
        f"{s.urls['channel']}/v1/charges/{payment_id}", auth=s.as_caller("payment"), timeout=10
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


def reconcile(s: PaymentServices, grace: float) -> str:
    return s.run_as_payment("apps.payment.provider_reconcile", "--grace", str(grace)).strip()


def insert_failed_payment(s: PaymentServices, payment_id: str) -> None:
    s.query(
        "INSERT INTO payment.payments (payment_id, merchant_id, idempotency_key, request_fingerprint,"
        " user_id, amount, currency, payment_method, channel, state, failure_reason, finalized_at)"
        " VALUES (%s, %s, %s, 'f', 'user-x', 700, 'EUR', 'card', 'card', 'failed', 'deadline_exceeded',"
        " now())"
        " RETURNING payment_id",
        payment_id,
        MERCHANT,
        uuid.uuid4().hex,
    )


def test_charges_without_a_succeeded_payment_are_voided_and_the_rest_left_alone(
    services: PaymentServices,
) -> None:
    s = services
    users = s.new_users(1, 1_000_000)
    succeeded = []
    for _ in range(3):
        answer = s.pay(users[0], 1_250)
        assert answer.status_code == 201, answer.text
        succeeded.append(answer.json()["payment_id"])
    orphans = [str(uuid.uuid4()) for _ in range(2)]  # rows lost in a crash: no payment, no debit
    for payment_id in orphans:
        provider_charge(s, payment_id)
    failed = str(uuid.uuid4())
    insert_failed_payment(s, failed)
    provider_charge(s, failed)

    # Inside the grace period nothing is touched: the charges are too recent to judge.
    assert reconcile(s, grace=300).startswith("examined 0 provider charges")
    assert {charge_status(s, p) for p in [*orphans, failed]} == {"approved"}

    line = reconcile(s, grace=0)
    assert line == "examined 6 provider charges: matched 3, voided 3, left open 0, mismatched 0", line
    assert [charge_status(s, p) for p in [*orphans, failed]] == ["voided"] * 3
    assert [charge_status(s, p) for p in succeeded] == ["approved"] * 3

    # A second pass finds only the matched charges: voided ones are no longer settled.
    assert (
        reconcile(s, grace=0) == "examined 3 provider charges: matched 3, voided 0, left open 0, mismatched 0"
    )
    # A voided charge is never replayed as approved to a retry of the charge.
    retry = requests.post(
        f"{s.urls['channel']}/v1/charges",
        json={"payment_id": orphans[0], "amount": 700, "currency": "EUR", "channel": "card"},
        auth=s.as_caller("payment"),
        timeout=10,
    )
    assert retry.status_code == 409, retry.text


def test_the_provider_listing_pages_and_only_the_reconciliation_and_operator_read_it(
    services: PaymentServices,
) -> None:
    s = services
    for _ in range(3):
        provider_charge(s, str(uuid.uuid4()), amount=5)
    url = f"{s.urls['channel']}/v1/charges"
    first = requests.get(url, params={"limit": "2"}, auth=s.as_caller("operator"), timeout=10).json()
    assert len(first["charges"]) == 2 and first["next"] == first["charges"][-1]["payment_id"]
    rest = requests.get(
        url, params={"limit": "1000", "after": first["next"]}, auth=s.as_caller("payment"), timeout=10
    ).json()
    seen = [c["payment_id"] for c in first["charges"] + rest["charges"]]
    assert len(seen) == len(set(seen)) and rest["next"] is None
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, auth=s.as_caller("gateway"), timeout=10).status_code == 403
    void = requests.post(
        f"{url}/{seen[0]}/void", json={"reason": "x"}, auth=s.as_caller("operator"), timeout=10
    )
    assert void.status_code == 403


def test_the_payment_service_reconciles_the_provider_in_the_background(services: PaymentServices) -> None:
    """Nothing has to schedule the pass: each payment worker runs it every
    PROVIDER_RECONCILE_INTERVAL_S, past PROVIDER_RECONCILE_GRACE_S."""
    s = services
    s.start_payment(
        name="payment-provider-background",
        workers=1,
        PROVIDER_RECONCILE_INTERVAL_S="0.5",
        PROVIDER_RECONCILE_GRACE_S="1",
    )
    user = s.new_users(1, 100_000)[0]
    kept = s.pay(user, 900)
    assert kept.status_code == 201, kept.text
    orphan = str(uuid.uuid4())
    provider_charge(s, orphan)
    until = time.monotonic() + 30
    while charge_status(s, orphan) != "voided" and time.monotonic() < until:
        time.sleep(0.2)
    assert charge_status(s, orphan) == "voided"
    assert charge_status(s, kept.json()["payment_id"]) == "approved"
