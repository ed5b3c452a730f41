"""Each running service's /metrics exposes exactly its catalog entries: names, types, label names."""

from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

import catalog
from obsctl.run import internal_secret
from tests.services.service_harness import catalog_shape, exposed_shape
from tests.telemetry.stack_harness import TelemetryStack
from tests.telemetry.traces import wait_for

SERVICES = tuple(catalog.default().services)


@pytest.fixture(scope="module")
def after_traffic(telemetry_stack: TelemetryStack) -> TelemetryStack:
    running = telemetry_stack
    paid = running.pay(running.users[1], 2_000)
    assert paid.status_code == 201, paid.text
    assert running.pay(running.new_user(10), 5_000).status_code == 402
    assert running.refund(paid.json()["payment_id"], 700).status_code in (200, 201)
    assert running.signed("GET", f"/api/v1/accounts/{running.users[1]}?currency=EUR", None).status_code == 200
    assert running.signed("POST", "/api/v1/payments", {}, extra={"X-Signature": "0" * 64}).status_code == 401
    # The notification consumer has recorded this payment's events (not merely some event: the
    # declined payment's may arrive first).
    notifications = f"{running.url('notification')}/v1/notifications/{paid.json()['payment_id']}"
    operator = internal_secret.operator_auth(running.stack.state_dir)  # internal APIs take signed calls
    wait_for(
        "the notification service to record the payment's events",
        lambda: requests.get(notifications, auth=operator, timeout=5).status_code == 200,
    )
    return running


@pytest.mark.parametrize("service", SERVICES)
def test_metrics_match_the_catalog_exactly(after_traffic: TelemetryStack, service: str) -> None:
    text = requests.get(f"{after_traffic.url(service)}/metrics", timeout=5).text
    exposed = exposed_shape(text)
    expected = catalog_shape(service)
    missing, extra = sorted(set(expected) - set(exposed)), sorted(set(exposed) - set(expected))
    assert not missing and not extra, f"{service}: not exposed {missing}; not in the catalog {extra}"
    assert {n: t for n, (t, _) in exposed.items()} == {n: t for n, (t, _) in expected.items()}
    # Label names show only on families that have samples; after this traffic that is most of them,
    # and each of those must carry exactly the catalog's labels.
    with_samples = {f.name for f in text_string_to_metric_families(text) if f.samples}
    assert with_samples, f"{service} exposed no samples at all"
    for name in with_samples:
        assert exposed[name][1] == expected[name][1], (
            f"{name}: labels {exposed[name][1]} != {expected[name][1]}"
        )
