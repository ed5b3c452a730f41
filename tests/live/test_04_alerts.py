"""Real faults, real alerts: with the provider failing every charge, the payment availability page
fires in Prometheus and reaches Alertmanager's webhook, and after the fault is cleared it resolves
in Prometheus and a resolved notification reaches the webhook; with the Kafka broker down, the
outbox backlog alert fires, and resolves when the broker is back.

The tests run in order and share one timeline: the Kafka fault runs while the payment SLO's windows
let go of the channel errors. Detection and resolution times are printed at the end, next to what
the SLO math predicts (obsctl.run.slo_timing, from the generated rule).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from obsctl.run import faults, notifications, slo_timing
from tests.live.helpers import Live, eventually

PAGE = "PaymentAvailabilityBudgetBurn"
PAGE_LABELS = {"severity": "critical"}
BACKLOG = "OutboxBacklogGrowing"

timeline: dict[str, float] = {}  # what -> seconds, printed at the end
marks: dict[str, float] = {}  # when the faults changed (unix seconds)


@pytest.fixture(scope="module", autouse=True)
def report_times(live: Live, request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture else _nothing():
        print("\nlive alert timings (seconds):")
        for what, seconds in timeline.items():
            print(f"  {what:60} {seconds:7.1f}")


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


@pytest.mark.slow
def test_channel_errors_page_fires_and_reaches_the_webhook(live: Live) -> None:
    assert not live.prom.firing(PAGE, **PAGE_LABELS), "the page fires before any fault"
    started = time.time()
    faults.set_fault(live.stack, "channel-errors", "on")
    marks["channel_errors_on"] = started
    eventually(f"{PAGE} firing in Prometheus", lambda: live.prom.firing(PAGE, **PAGE_LABELS), timeout_s=300)
    timeline["page firing in Prometheus after the fault (s)"] = time.time() - started
    conditions = slo_timing.page_conditions(PAGE, PAGE_LABELS["severity"])
    predicted = slo_timing.seconds_to_fire(conditions, 1.0, started - live.started)
    timeline["SLO math: page fires after the fault (s)"] = predicted or float("nan")
    note = eventually(
        f"{PAGE} firing at the webhook",
        lambda: notifications.first(live.alerts_log, PAGE, "firing", since=started, **PAGE_LABELS),
        timeout_s=max(10.0, 300 - (time.time() - started)),
    )
    timeline["page notification at the webhook after the fault (s)"] = note.received_at - started
    # Routed by the generated alertmanager.yml to the gateway team's page receiver, whose webhook
    # is <base>/<team>/<page|ticket>.
    assert note.receiver_path == "/edge/page", note.receiver_path
    # Sloth's label name, written out: the notification carries the labels Sloth's rules would.
    assert note.labels["sloth_slo"] == "payment-availability"


@pytest.mark.slow
def test_kafka_down_fires_the_outbox_backlog_alert(live: Live) -> None:
    # The channel fault ends here; its recovery is checked after this test, which runs meanwhile.
    faults.set_fault(live.stack, "channel-errors", "off")
    marks["channel_errors_off"] = time.time()
    started = time.time()
    faults.set_fault(live.stack, "kafka-down", "on")
    try:
        eventually(f"{BACKLOG} firing", lambda: live.prom.firing(BACKLOG), timeout_s=300, interval_s=5)
        timeline["outbox backlog alert firing after Kafka went down (s)"] = time.time() - started
        eventually(
            f"{BACKLOG} firing at the webhook",
            lambda: notifications.first(live.alerts_log, BACKLOG, "firing", since=started),
            timeout_s=120,
        )
    finally:
        faults.set_fault(live.stack, "kafka-down", "off")
    back = time.time()
    eventually(f"{BACKLOG} resolved in Prometheus", lambda: not live.prom.firing(BACKLOG), timeout_s=300)
    timeline["outbox backlog alert resolved after Kafka came back (s)"] = time.time() - back
    eventually(
        f"{BACKLOG} resolved at the webhook",
        lambda: notifications.first(live.alerts_log, BACKLOG, "resolved", since=back),
        timeout_s=180,
    )
    timeline["outbox backlog resolved notification after Kafka came back (s)"] = time.time() - back


@pytest.mark.slow
def test_page_resolves_after_the_fault_is_cleared(live: Live) -> None:
    assert "channel_errors_off" in marks, "runs after the channel fault was turned off"
    off = marks["channel_errors_off"]
    eventually(
        f"{PAGE} resolved in Prometheus",
        lambda: not live.prom.firing(PAGE, **PAGE_LABELS),
        timeout_s=max(30.0, 600 - (time.time() - off)),
        interval_s=2,
    )
    timeline["page resolved in Prometheus after recovery (s)"] = time.time() - off
    note = eventually(
        f"{PAGE} resolved at the webhook",
        lambda: notifications.first(live.alerts_log, PAGE, "resolved", since=off, **PAGE_LABELS),
        timeout_s=120,
    )
    timeline["page resolved notification at the webhook after recovery (s)"] = note.received_at - off
    conditions = slo_timing.page_conditions(PAGE, PAGE_LABELS["severity"])
    fault_s = off - marks["channel_errors_on"]
    predicted = slo_timing.seconds_to_resolve(
        conditions, 1.0, marks["channel_errors_on"] - live.started, fault_s
    )
    timeline["SLO math: page resolves after recovery (s)"] = predicted or float("nan")
