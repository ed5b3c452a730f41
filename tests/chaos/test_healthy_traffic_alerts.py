"""Alerting quality, live (issue 16, finding 8): the demo's healthy traffic raises no false alert.

The whole local stack with its generated rules and routing (`obsctl up`: Prometheus evaluating
every 5 s, Alertmanager, the webhook) gets the demo's traffic (obsctl/run/load, the same users
and mix `make demo` starts) at HEALTHY_RATE, `make demo`'s default, half of the stack's capacity at
the latency SLO (obsctl.run.demo.CAPACITY_PAYMENTS_PER_S). At every rule evaluation the test reads
Prometheus' ALERTS: no alert may fire, and after the first minute none may even be pending.
Alertmanager may notify nothing. The one exception is the latency ticket when it is true (on a
slow hour this host misses the latency SLO even at this rate: docs/reliability.md): when it fires,
more than TICKET_TRUE_ABOVE of the payments since the traffic began must have taken over 200 ms,
counted from the gateway's raw histogram. The latency page may never fire.

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
from dataclasses import dataclass
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


# The latency SLO's events (observability/slos/gateway.yaml, payment-latency): payments at the gateway.
_PAYMENTS = 'job="gateway",http_route="/api/v1/payments",http_request_method="POST"'
LATENCY_ALERT = "PaymentLatencyBudgetBurn"
# The ticket's threshold is 1x the budget (0.5% of payments over 200 ms) over windows that, on a
# fresh stack, hold the whole run; increase() extrapolates differently from the rules' rate()
# ratios at the edges of so little data, hence a margin below 0.5%.
TICKET_TRUE_ABOVE = 0.004


def slow_payment_share(prom: PrometheusAPI, *, at: float, since: float) -> float:
    """Payments over 200 ms / all payments between `since` and `at`, from the raw histogram."""
    window = f"{max(1, round(at - since))}s"
    total = f"sum(increase(http_server_request_duration_seconds_count{{{_PAYMENTS}}}[{window}]))"
    fast = f'sum(increase(http_server_request_duration_seconds_bucket{{{_PAYMENTS},le="0.2"}}[{window}]))'
    [row] = prom.query(f"({total} - {fast}) / {total}", at=at)
    return float(row["value"][1])


def slow_share_by_service(prom: PrometheusAPI, *, at: float, since: float) -> dict[str, float]:
    """Each service's requests over 200 ms / its requests, from its own server histogram: which hop
    a slow payment spent its time in."""
    window = f"{max(1, round(at - since))}s"
    metric = "http_server_request_duration_seconds"
    total = f"sum by (job) (increase({metric}_count[{window}]))"
    fast = f'sum by (job) (increase({metric}_bucket{{le="0.2"}}[{window}]))'
    rows = prom.query(f"({total} - {fast}) / {total}", at=at)
    return {row["metric"]["job"]: float(row["value"][1]) for row in rows}


def cpu_steal_share(before: list[int], after: list[int]) -> float:
    """The share of the machine's CPU time the hypervisor gave to others (/proc/stat's steal)."""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return spent[7] / sum(spent) if sum(spent) else 0.0


def cpu_times() -> list[int]:
    """/proc/stat's first line: user nice system idle iowait irq softirq steal (in ticks)."""
    return [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]


@dataclass
class Healthy:
    stack: Stack
    load: LoadProcess


@pytest.fixture(scope="module")
def healthy(state_dir_factory: Callable[[], Path]) -> Iterator[Healthy]:
    """Everything `make demo` starts, with the traffic flowing before Prometheus first scrapes.

    A fresh process answers its first requests slowly (imports, connection pools, first queries),
    and so does a freshly started load generator's first second (its own start takes CPU from the
    services). On a fresh stack those few requests are most of every burn window, so they page at
    once. That is a deployment's cold start, not healthy traffic: the traffic starts WARMUP_S
    before Prometheus, so its first requests are in the counters before the first scrape and no
    rate() window sees them. One load generator runs throughout, as `make demo` runs one.
    """
    running = Stack(state_dir_factory())
    load = None
    try:
        running.up([name for name in running.resolve(None) if name not in ALERTING])
        users = max(1, round(HEALTHY_RATE / 2))  # as obsctl.run.demo.run starts its load
        duration_s = WARMUP_S + HEALTHY_S + 120
        load = LoadProcess(running.env(), users=users, user_rate=HEALTHY_RATE / users, duration_s=duration_s)
        time.sleep(WARMUP_S)
        running.up()  # the webhook, Alertmanager and Prometheus
        yield Healthy(running, load)
    finally:
        if load is not None and load.running():  # the test stops it and reads its figures
            load.stop()
        running.down()


@pytest.mark.timeout(HEALTHY_S + 300)
def test_healthy_traffic_fires_no_alert_and_the_demo_reports_every_burn(healthy: Healthy) -> None:
    stack, load = healthy.stack, healthy.load
    env = stack.env()
    prom = PrometheusAPI(env["PROMETHEUS_URL"])
    prom.wait_until_serving()
    print(f"\nhealthy traffic at {HEALTHY_RATE:g} req/s: {demo.capacity_line(HEALTHY_RATE)}")
    assert HEALTHY_RATE * demo.PAYMENT_SHARE <= demo.CAPACITY_PAYMENTS_PER_S / 2
    began = time.time()
    times_before = cpu_times()
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
    # Evidence for a slow hour: which hop was slow, and whether the host lent its CPUs to others.
    by_service = slow_share_by_service(prom, at=time.time(), since=began - WARMUP_S)
    slow = ", ".join(f"{k} {v:.2%}" for k, v in sorted(by_service.items()))
    print(f"requests over 200 ms by service: {slow}")
    stolen = cpu_steal_share(times_before, cpu_times())
    print(f"CPU time stolen by the hypervisor during the run: {stolen:.2%}")

    assert evaluations >= HEALTHY_S / EVALUATION_S * 0.8
    # The clients' figures include the WARMUP_S before Prometheus started.
    assert result.requests >= HEALTHY_RATE * HEALTHY_S * 0.8, "the traffic did not reach its rate"
    # The latency ticket may fire only when it is true: when, at that moment, the payments slower
    # than 200 ms since the traffic began were above the SLO's 0.5%, counted from the gateway's raw
    # histogram (not the generated rules the alert evaluates). The page never may.
    ticket = (LATENCY_ALERT, "warning", "firing")
    if ticket in seen:
        slow_share = slow_payment_share(prom, at=began + seen[ticket], since=began - WARMUP_S)
        print(f"{LATENCY_ALERT} ticket at +{seen[ticket]}s: {slow_share:.2%} of payments over 200 ms by then")
        assert slow_share > TICKET_TRUE_ABOVE, f"{LATENCY_ALERT} ticketed with {slow_share:.2%} slow payments"
    others = {k: t for k, t in seen.items() if k != ticket}
    firing = {k: t for k, t in others.items() if k[2] == "firing"}
    assert firing == {}, f"alerts fired on healthy traffic: {firing}"
    late = {k: t for k, t in others.items() if t > GRACE_S}
    assert late == {}, f"alerts pending after the first minute of healthy traffic: {late}"
    notes = [n for n in notifications.read(Path(env["ALERTS_LOG"])) if n.received_at >= began]
    notified = [(n.alertname, n.labels.get("severity")) for n in notes]
    assert [n for n in notified if n != (LATENCY_ALERT, "warning") or ticket not in seen] == [], (
        f"Alertmanager notified on healthy traffic: {notified}"
    )

    # The healthy phase's summary: every SLO the rules define, each with its burn rates.
    objectives = prom.query("max by (sloth_service, sloth_slo) (slo:objective:ratio)")
    assert len(burns) == len(objectives) >= 8
    assert all("burn rate 5m -" not in line and "1h -" not in line for line in burns), burns
