"""Alerting quality, live (issue 16, finding 8): the demo's healthy traffic raises no alert at all.

The whole local stack with its generated rules and routing (`obsctl up`: Prometheus evaluating
every 5 s, Alertmanager, the webhook) gets the demo's traffic (obsctl/run/load, the same users
and mix `make demo` starts) at HEALTHY_RATE, `make demo`'s default, half of the stack's capacity at
the latency SLO (obsctl.run.demo.CAPACITY_PAYMENTS_PER_S). At every rule evaluation the test reads
Prometheus' ALERTS: no alert may fire, and after the first minute none may even be pending.
Alertmanager may notify nothing.

The traffic runs for HEALTHY_S, the issue's 10 minutes. The SLO burn alerts have no `for:` and
fire at the first evaluation whose windows are over their thresholds; on a fresh stack every
window (5m, 30m, 1h, 6h, 3d) covers the whole run, so the latency ticket (1x over 6h and 3d)
fires as soon as more than 0.5% of the run's payments took over 200 ms. The service alerts wait
1 to 10 minutes (`for:`), and an alert can only fire after being pending for that long: none may
be pending after the first minute. (Pending in the first minute is allowed: SLIAbsent, `for:
10m`, is pending until the first refund or notification has been measured.)

The demo's healthy phase prints every SLO's burn (obsctl.run.demo.every_slo_burn); the test
checks that it reports a burn rate for each SLO the rules define, not only the page's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from obsctl.run import demo, notifications
from obsctl.run.load.run import LoadProcess
from obsctl.run.prometheus_api import PrometheusAPI
from obsctl.run.stack.stack import ALERTING, Stack

pytestmark = pytest.mark.slow
# Requests per second: `make demo`'s default (4 payments/s), half of the local stack's capacity at
# the latency SLO. At 10 requests/s the stack is at its capacity: 99.4 to 99.6% of payments within
# 200 ms over 10 minutes (docs/reliability.md), where the SLO asks for 99.5%.
HEALTHY_RATE = demo.DEFAULT_RATE
HEALTHY_S = 600
WARMUP_S = 30
GRACE_S = 60
EVALUATION_S = 5.0  # obsctl/run/stack/prometheus.py DEFAULT_INTERVAL: scrape and rule evaluation


@pytest.fixture(scope="module")
def stack(state_dir_factory: Callable[[], Path]) -> Iterator[Stack]:
    """Everything `make demo` starts, the services warmed up before Prometheus first scrapes them.

    A fresh process answers its first requests slowly (imports, connection pools, first queries);
    on a fresh stack those few requests are most of every burn window, so they page at once. That
    is a deployment's cold start, not healthy traffic: the warm-up traffic is in the counters
    before the first scrape, and no rate() window sees it.
    """
    running = Stack(state_dir_factory())
    try:
        running.up([name for name in running.resolve(None) if name not in ALERTING])
        users = max(1, round(HEALTHY_RATE / 2))
        warmup = LoadProcess(running.env(), users=users, user_rate=HEALTHY_RATE / users, duration_s=WARMUP_S)
        time.sleep(WARMUP_S)
        warmup.stop()
        running.up()  # the webhook, Alertmanager and Prometheus
        yield running
    finally:
        running.down()


@pytest.mark.timeout(HEALTHY_S + 300)
def test_healthy_traffic_fires_no_alert_and_the_demo_reports_every_burn(stack: Stack) -> None:
    env = stack.env()
    prom = PrometheusAPI(env["PROMETHEUS_URL"])
    prom.wait_until_serving()
    print(f"\nhealthy traffic at {HEALTHY_RATE:g} req/s: {demo.capacity_line(HEALTHY_RATE)}")
    assert HEALTHY_RATE * demo.PAYMENT_SHARE <= demo.CAPACITY_PAYMENTS_PER_S / 2
    users = max(1, round(HEALTHY_RATE / 2))  # as obsctl.run.demo.run starts its load
    load = LoadProcess(env, users=users, user_rate=HEALTHY_RATE / users, duration_s=HEALTHY_S + 30)
    began = time.time()
    seen: dict[tuple[str, str, str], float] = {}  # (alert, severity, state) -> seconds into the run
    evaluations = 0
    try:
        while time.time() - began < HEALTHY_S:
            assert load.running(), f"the load generator stopped: {load.log.read_text()[-2000:]}"
            for series in prom.query("ALERTS"):
                labels = series["metric"]
                key = (labels["alertname"], labels.get("severity", ""), labels["alertstate"])
                if key not in seen:  # each alert state once, when first seen
                    seen[key] = round(time.time() - began)
                    print(f"  {key} at +{seen[key]}s: {labels}")
            evaluations += 1
            time.sleep(EVALUATION_S)
        burns = demo.every_slo_burn(prom)
    finally:
        result = load.stop()
    print(
        f"load: {result.requests} requests, {result.error_rate:.2%} answered with an error,"
        f" p50 {result.p50_ms:.0f} ms, p95 {result.p95_ms:.0f} ms, p99 {result.p99_ms:.0f} ms"
    )
    print("\n".join(f"  {line}" for line in burns))
    print(f"alert states seen (first seen, seconds into the run): {seen or 'none'}")

    assert evaluations >= HEALTHY_S / EVALUATION_S * 0.8
    assert result.requests >= HEALTHY_RATE * HEALTHY_S * 0.8, "the traffic did not reach its rate"
    firing = {k: t for k, t in seen.items() if k[2] == "firing"}
    assert firing == {}, f"alerts fired on healthy traffic: {firing}"
    late = {k: t for k, t in seen.items() if t > GRACE_S}
    assert late == {}, f"alerts pending after the first minute of healthy traffic: {late}"
    notes = [n for n in notifications.read(Path(env["ALERTS_LOG"])) if n.received_at >= began]
    assert [n.alertname for n in notes] == [], "Alertmanager notified on healthy traffic"

    # The healthy phase's summary: every SLO the rules define, each with its burn rates.
    objectives = prom.query("max by (sloth_service, sloth_slo) (slo:objective:ratio)")
    assert len(burns) == len(objectives) >= 8
    assert all("burn rate 5m -" not in line and "1h -" not in line for line in burns), burns
