"""`make demo`: the whole loop on one machine, shown as it goes.

Generate every artifact, start the stack (PostgreSQL, Redis, tansu, Jaeger, VictoriaLogs, the
collector running the generated collector/local.yaml, the six services, Prometheus with the
generated rules, Alertmanager with the generated routing and a local webhook), drive signed
traffic, turn the provider's errors on until the payment-availability SLO pages, go from the page to
the evidence (one failed payment's trace in Jaeger and its log lines in VictoriaLogs, by trace id),
turn the errors off and watch the burn rate fall, then summarise from Prometheus and Alertmanager's
webhook.

The page's conditions are read from the generated rule (obsctl.run.slo_timing), and the summary puts
the measured detection and resolution times next to what the SLO math predicts for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from catalog import default as default_catalog
from obsctl import paths
from obsctl.errors import ObsctlError
from obsctl.generate import artifacts
from obsctl.generate import conventions as c
from obsctl.run import faults, notifications, slo_timing
from obsctl.run.load.run import LoadProcess, LoadResult
from obsctl.run.prometheus_api import PrometheusAPI
from obsctl.run.stack.jaeger import STATUS_ERROR, Jaeger, Span
from obsctl.run.stack.stack import Stack
from obsctl.run.stack.victorialogs import VictoriaLogs

PAGE_ALERT = "PaymentAvailabilityBudgetBurn"
PAGE_LABELS = {"severity": "critical"}
SLO_ID = "gateway-payment-availability"
SLO_SELECTOR = f'{{{c.LABEL_ID}="{SLO_ID}"}}'
FAULT = "channel-errors"
# Where a failed payment shows: the gateway's server span of the payments route, with an error status.
FAILED_SERVICE = "gateway"
FAILED_OPERATION = "POST /api/v1/payments"
# The service that fails in the fault (the simulated provider).
PROVIDER = "channel"
# The answers of a failed payment, each searched in Jaeger; at most SEARCH_LIMIT traces each. Of
# those, how many to look at for one whose services wrote log lines.
FAILED_STATUS_CODES = ("500", "502", "503", "504")
SEARCH_LIMIT = 200
CANDIDATES = 20
FIRE_TIMEOUT_S = 300
# Beyond the predicted resolution time: Prometheus' lag and Alertmanager's group_interval.
RESOLVE_MARGIN_S = 120
# The local stack's capacity at the latency SLO on this 2-CPU host: the payment rate at which
# 99.5% of payments stay within 200 ms over 10 minutes, with everything `make demo` runs on the
# same two cores (every trace sampled, the collector, Jaeger, VictoriaLogs, Prometheus, durable
# PostgreSQL). Measured (docs/reliability.md): 8 payments/s (10 requests/s) gave 99.4 to 99.6% in
# three runs, at its edge; 4 payments/s gave 99.97% on a quiet hour and 99.4% on a slow one, when
# this host misses the SLO even at half of it. The services alone do more (docs/performance.md):
# the telemetry backends share the CPUs here.
CAPACITY_PAYMENTS_PER_S = 8.0
# The demo's requests/s by default: 4 payments/s, half of that capacity.
DEFAULT_RATE = 5.0
# The share of the load generator's requests that are payments (its task weights, 16:2:2).
PAYMENT_SHARE = 16 / 20


@dataclass
class Timeline:
    started: float = field(default_factory=time.time)
    events: list[tuple[float, str]] = field(default_factory=list)

    def mark(self, what: str) -> float:
        now = time.time()
        self.events.append((now, what))
        return now


@dataclass
class Measured:
    """Seconds, as measured; None when the step did not happen."""

    healthy_s: float = 0.0
    fired_s: float | None = None
    notified_s: float | None = None
    fault_s: float | None = None
    resolved_s: float | None = None
    resolved_notified_s: float | None = None


class Demo:
    def __init__(self, console: Console, stack: Stack, prom: PrometheusAPI):
        self.console = console
        self.stack = stack
        self.prom = prom
        self.timeline = Timeline()
        self.measured = Measured()
        # The page's windows and thresholds, as generated (the rule files of obsctl.generate.rules.layout).
        self.conditions = slo_timing.page_conditions(PAGE_ALERT, PAGE_LABELS["severity"])

    # -- what Prometheus says ------------------------------------------------------------------

    def budget(self) -> float:
        objective = self.prom.scalar(f"max({c.OBJECTIVE}{SLO_SELECTOR})")
        if objective is None:
            raise ObsctlError(f"Prometheus has no {c.OBJECTIVE} for {SLO_ID}: are the rules loaded?")
        return 1 - objective

    def burn(self, window: str) -> float | None:
        ratio = self.prom.scalar(f"max({c.sli_error_record(window)}{SLO_SELECTOR})")
        return None if ratio is None else ratio / self.budget()

    def burn_line(self) -> str:
        parts = []
        for window in ("5m", "1h", "30m"):
            value = self.burn(window)
            parts.append(f"{window} {'-' if value is None else f'{value:.1f}x'}")
        return "burn rate " + ", ".join(parts)

    def paging(self) -> bool:
        return bool(self.prom.firing(PAGE_ALERT, **PAGE_LABELS))

    # -- waiting, with progress ------------------------------------------------------------------

    def wait_for(self, what: str, check: Callable[[], bool], timeout_s: float) -> float | None:
        """Poll `check` every 2 s, the burn rates on the status line; seconds taken, None on timeout."""
        began = time.time()
        with self.console.status(what) as status:
            while time.time() - began < timeout_s:
                if check():
                    return time.time() - began
                status.update(f"{what} ({time.time() - began:.0f}s; {self.burn_line()})")
                time.sleep(2)
        return None

    def notified(self, status: str, since: float) -> notifications.Notification | None:
        log = Path(self.stack.env()["ALERTS_LOG"])
        return notifications.first(log, PAGE_ALERT, status, since=since, **PAGE_LABELS)


def run(
    *,
    keep: bool = True,
    rate: float = DEFAULT_RATE,
    warmup_s: int = 60,
    console: Console | None = None,
) -> int:
    if console is None:
        console = Console(highlight=False)
        if not console.is_terminal:
            console.width = 120  # piped to a file or CI log: keep the tables' columns readable
    console.rule("[bold]payment observability demo")
    steps = 7

    console.print(f"[bold]1/{steps}[/] generating every artifact from observability/")
    generation = artifacts.render()
    changed = artifacts.write(generation)
    console.print(f"     {len(generation.files)} files ({len(changed)} changed)")

    console.print(f"[bold]2/{steps}[/] starting the local stack")
    stack = Stack(reporter=_RichReporter(console))
    env = stack.up()
    demo = Demo(console, stack, PrometheusAPI(env["PROMETHEUS_URL"]))
    demo.prom.wait_until_serving()
    faults.clear(stack)  # a previous run may have left a fault on
    if demo.paging():
        console.print(
            f"[yellow]     {PAGE_ALERT} is already paging from an earlier fault; "
            "`make down` first for a clean run (the SLO windows remember it).[/]"
        )

    users = max(1, round(rate / 2))
    load = LoadProcess(env, users=users, user_rate=rate / users, duration_s=3600)
    result: LoadResult | None = None
    exit_code = 0
    try:
        exit_code = _loop(demo, rate, warmup_s, steps)
    finally:
        try:
            result = load.stop()
        finally:
            faults.clear(stack)

    console.print(f"[bold]{steps}/{steps}[/] summary")
    _summary(demo, result)
    if keep:
        env = stack.env()
        console.print(
            "\nThe stack keeps running for exploration (the Prometheus, Alertmanager and Jaeger builds "
            "from their Go modules serve their APIs, not their web UIs): "
            f"Prometheus API {env.get('PROMETHEUS_URL')}/api/v1, Alertmanager API "
            f"{env.get('ALERTMANAGER_URL')}/api/v2, Jaeger API {env.get('JAEGER_URL')}/api/v3, "
            f"VictoriaLogs web UI {env.get('LOGS_URL')}/select/vmui/, "
            f"gateway {env.get('GATEWAY_URL')}; notifications in {env.get('ALERTS_LOG')}; variables in "
            f"{stack.env_file}. More traffic: [bold]obsctl load[/]; faults: [bold]obsctl fault list[/]. "
            "Stop it with [bold]make down[/]."
        )
    else:
        stack.down()
        console.print("\nThe stack is stopped.")
    return exit_code


def _loop(demo: Demo, rate: float, warmup_s: int, steps: int) -> int:
    console, stack, measured = demo.console, demo.stack, demo.measured
    console.print(f"[bold]3/{steps}[/] healthy traffic at {rate:g} req/s for {warmup_s}s")
    console.print(f"     {capacity_line(rate)}")
    began = time.time()
    demo.wait_for("healthy traffic", lambda: time.time() - began >= warmup_s, warmup_s + 5)
    measured.healthy_s = time.time() - began
    for line in every_slo_burn(demo.prom):
        console.print(f"     {line}")

    console.print(f"[bold]4/{steps}[/] fault: {FAULT} on (the provider fails every charge)")
    console.print("     " + faults.set_fault(stack, FAULT, "on"))
    fault_on = demo.timeline.mark(f"{FAULT} on")
    measured.fired_s = demo.wait_for(f"waiting for {PAGE_ALERT} to page", demo.paging, FIRE_TIMEOUT_S)
    if measured.fired_s is None:
        console.print(f"[red]     the page did not fire within {FIRE_TIMEOUT_S}s[/]")
        faults.set_fault(stack, FAULT, "off")
        return 1
    demo.timeline.mark(f"{PAGE_ALERT} firing in Prometheus")
    console.print(f"     [red]PAGE[/] {PAGE_ALERT} firing {measured.fired_s:.0f}s after the fault")
    console.print(f"     {demo.burn_line()}")
    note = None
    if demo.wait_for(
        "waiting for Alertmanager's webhook", lambda: bool(demo.notified("firing", fault_on)), 120
    ):
        note = demo.notified("firing", fault_on)
    if note is not None:
        measured.notified_s = note.received_at - fault_on
        demo.timeline.mark("page notification at the webhook")
        console.print(
            f"     Alertmanager delivered it to receiver {note.receiver_path.strip('/')} "
            f"{measured.notified_s:.0f}s after the fault"
        )
    evidence(demo.console, demo.stack, fault_on)

    console.print(f"[bold]5/{steps}[/] fault: {FAULT} off; waiting for the page to resolve")
    console.print("     " + faults.set_fault(stack, FAULT, "off"))
    fault_off = demo.timeline.mark(f"{FAULT} off")
    measured.fault_s = fault_off - fault_on
    predicted = slo_timing.seconds_to_resolve(demo.conditions, 1.0, measured.healthy_s, measured.fault_s)
    if predicted is not None:
        console.print(f"     the SLO math expects it about {predicted:.0f}s after recovery")
    timeout = (predicted or 600) + RESOLVE_MARGIN_S
    resolved = demo.wait_for("waiting for the page to resolve", lambda: not demo.paging(), timeout)
    if resolved is None:
        console.print(f"[red]     the page did not resolve within {timeout:.0f}s[/]")
        return 1
    measured.resolved_s = time.time() - fault_off
    demo.timeline.mark(f"{PAGE_ALERT} resolved in Prometheus")
    console.print(f"     [green]resolved[/] in Prometheus {measured.resolved_s:.0f}s after recovery")

    console.print(f"[bold]6/{steps}[/] waiting for Alertmanager's resolved notification")
    if demo.wait_for(
        "waiting for the resolved notification", lambda: bool(demo.notified("resolved", fault_off)), 120
    ):
        note = demo.notified("resolved", fault_off)
        if note is not None:
            measured.resolved_notified_s = note.received_at - fault_off
            demo.timeline.mark("resolved notification at the webhook")
            console.print(f"     delivered {measured.resolved_notified_s:.0f}s after recovery")
    else:
        console.print("[red]     no resolved notification within 120s[/]")
        return 1
    return 0


def capacity_line(rate: float) -> str:
    """`rate` requests/s of the demo's mix as payments/s and as a share of the capacity at the SLO."""
    payments = rate * PAYMENT_SHARE
    share = payments / CAPACITY_PAYMENTS_PER_S
    line = (
        f"{payments:.3g} payments/s, {share:.0%} of this host's capacity at the latency SLO "
        f"({CAPACITY_PAYMENTS_PER_S:g} payments/s with 99.5% within 200 ms, the whole local stack, "
        "docs/reliability.md)"
    )
    if share > 0.5:
        line += "; above half of it, the latency SLO may burn on healthy traffic"
    return line


def every_slo_burn(prom: PrometheusAPI) -> list[str]:
    """One line per SLO the rules define: its burn rates over 5m and 1h and whether any alert of
    it is pending or firing (the healthy phase's summary: every SLO, not only the page's)."""
    objectives = {_key(r): r for r in prom.query(c.OBJECTIVE)}
    ratio5m = {_key(r): r for r in prom.query(c.sli_error_record("5m"))}
    ratio1h = {_key(r): r for r in prom.query(c.sli_error_record("1h"))}
    alerts = [r["metric"] for r in prom.query("ALERTS")]
    lines = []
    for key in sorted(objectives):
        budget = 1 - float(objectives[key]["value"][1])
        states = sorted(
            {f"{a.get('alertname')} {a.get('alertstate')}" for a in alerts if _key({"metric": a}) == key}
        )
        lines.append(
            f"{key[0]}/{key[1]}: burn rate 5m {_burn(ratio5m.get(key), budget)}, "
            f"1h {_burn(ratio1h.get(key), budget)}; " + (", ".join(states) or "no alert")
        )
    return lines or ["no SLO objectives in Prometheus: are the rules loaded?"]


def evidence(console: Console, stack: Stack, since: float, until: float | None = None) -> None:
    """From the page to the evidence, as an SRE would: one failed payment's trace in Jaeger and
    that payment's log lines from every service in VictoriaLogs, found by its trace id."""
    console.print("     [bold]evidence[/]: one failed payment, by trace id")
    try:
        jaeger, logs = stack.server("jaeger"), stack.server("victorialogs")
        if not (isinstance(jaeger, Jaeger) and isinstance(logs, VictoriaLogs)):
            raise ObsctlError("no Jaeger or VictoriaLogs in this stack")
        if not (jaeger.running() and logs.running()):
            raise ObsctlError("Jaeger or VictoriaLogs is not running (`obsctl up` starts them)")
        failed = _failed_payments(jaeger, since, until)
        if not failed:
            console.print(f"     Jaeger has no failed {FAILED_OPERATION} since the fault (yet)")
            return
        # Those that reached the provider first (the failing call is in the trace; once the circuit
        # breaker opens, the payment service no longer calls it), newest first within each.
        failed.sort(key=lambda t: (not _has_service(t, PROVIDER), -_started(t)))
        candidates = [str(t["traceID"]) for t in failed[:CANDIDATES]]
        # The first candidate whose services wrote log lines; the first one if none did.
        chosen, lines = candidates[0], []
        for trace_id in candidates:
            found = logs.trace_logs(trace_id)
            if found:
                chosen, lines = trace_id, found
                break
        _print_evidence(console, jaeger, logs, chosen, jaeger.trace(chosen), lines, len(failed))
    except (ObsctlError, OSError, ValueError, KeyError) as exc:  # requests' errors are OSErrors
        console.print(f"[yellow]     could not fetch the evidence: {exc}[/]")


def _failed_payments(jaeger: Jaeger, since: float, until: float | None) -> list[dict[str, Any]]:
    """Traces (v1 JSON) of payments the gateway answered with a 5xx between `since` and `until`.
    Searched by status code: Jaeger's memory store cannot search the error flag (jaeger.py)."""
    found: dict[str, dict[str, Any]] = {}
    for code in FAILED_STATUS_CODES:
        for trace in jaeger.search(
            FAILED_SERVICE,
            operation=FAILED_OPERATION,
            tags={"http.status_code": code},
            since=since,
            until=until,
            limit=SEARCH_LIMIT,
        ):
            if _failed_at_the_gateway(trace):
                found[str(trace["traceID"])] = trace
    return list(found.values())


def _has_service(trace: dict[str, Any], service: str) -> bool:
    processes = trace.get("processes", {})
    return any(processes.get(s.get("processID"), {}).get("serviceName") == service for s in trace["spans"])


def _started(trace: dict[str, Any]) -> int:
    return min((int(s["startTime"]) for s in trace["spans"]), default=0)


def _failed_at_the_gateway(trace: dict[str, Any]) -> bool:
    processes = trace.get("processes", {})
    for span in trace.get("spans", []):
        service = processes.get(span.get("processID"), {}).get("serviceName")
        tags = {t["key"]: t["value"] for t in span.get("tags", [])}
        if (
            service == FAILED_SERVICE
            and span.get("operationName") == FAILED_OPERATION
            and tags.get("span.kind") == "server"
            and tags.get("error") is True
        ):
            return True
    return False


def _print_evidence(
    console: Console,
    jaeger: Jaeger,
    logs: VictoriaLogs,
    trace_id: str,
    spans: Sequence[Span],
    lines: list[dict[str, Any]],
    failed: int,
) -> None:
    payment_ids = {str(s.attributes["payment.id"]) for s in spans if s.attributes.get("payment.id")}
    console.print(
        f"     trace id [bold]{trace_id}[/] (one of {'at least ' if failed >= SEARCH_LIMIT else ''}{failed} "
        "failed payments Jaeger found since the fault"
        + (f"; payment {', '.join(sorted(payment_ids))}" if payment_ids else "")
        + ")"
    )
    console.print(
        "     Jaeger: this build (from the Go module) serves no web UI, only its API: "
        f"{jaeger.trace_url(trace_id)}"
    )
    services = sorted({s.service for s in spans})
    console.print(f"     the trace: {len(spans)} spans across {', '.join(services)}; where it failed:")
    for span in sorted((s for s in spans if s.status_code == STATUS_ERROR), key=lambda s: s.start_ns):
        status = span.attributes.get("http.status_code") or span.attributes.get("http.response.status_code")
        why = " ".join(f"{k}={span.attributes[k]}" for k in SPAN_FIELDS if k in span.attributes)
        where = f"       {span.service:13} {span.kind:8} {span.name}" + (f" -> {status}" if status else "")
        console.print(f"{where} {why}".rstrip())
    query = f'trace_id:="{trace_id}"'
    console.print(
        f"     its log lines in VictoriaLogs ({logs.url}/select/logsql/query?query={quote(query)}):"
    )
    by_service: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_service.setdefault(str(line.get("service.name", "?")), []).append(line)
    for service in _callers_first(services, by_service):
        entries = by_service.get(service, [])
        if not entries:
            console.print(f"       {service:13} (no log lines for this payment)")
        for entry in entries:
            extra = {k: v for k, v in entry.items() if k in LOG_FIELDS}
            fields = " ".join(f"{k}={v}" for k, v in extra.items())
            when = str(entry.get("_time", ""))[11:23]  # HH:MM:SS.mmm of the RFC 3339 time
            severity, message = entry.get("severity_text", ""), entry.get("_msg", "")
            # What the services logged is data, never rich markup.
            console.print(f"       {service:13} {when} {severity} {escape(str(message))} {escape(fields)}")
    console.print(f"     the same in VictoriaLogs' web UI: {logs.ui_url(query)}")


# Attributes of a failed span that say why.
SPAN_FIELDS = ("payment.status", "payment.failure_reason", "error.type")
# Fields of a log line worth showing next to its message (most others are resource attributes).
LOG_FIELDS = (
    "payment.id",
    "payment.status",
    "payment.failure_reason",
    "payment.stalled",
    "http.status_code",
    "error.code",
    "risk.decision",
    "risk.reasons",
    "ledger.operation",
    "ledger.result",
    "ledger.kind",
    "channel.outcome",
    "payment.event_type",
    "payment_id",
    "reason",
    "dependency",
    "kind",
    "error",
    "status",
    "exception.type",
    "exception.message",
)


def _callers_first(in_trace: Sequence[str], with_lines: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Every service of the trace and every service that logged for it, callers first."""
    order = list(reversed(default_catalog().start_order()))  # gateway, payment, ...
    names = set(in_trace) | set(with_lines)
    return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))


def _summary(demo: Demo, load: LoadResult | None) -> None:
    console, prom = demo.console, demo.prom
    payments = prom.scalar("sum(payments_total)") or 0
    succeeded = prom.scalar('sum(payments_total{status="succeeded"})') or 0
    share = succeeded / payments if payments else 0.0
    line = f"payments recorded: {payments:.0f}, succeeded {succeeded:.0f} ({share:.1%})"
    if load is not None:
        line += f"; load generator: {load.requests} requests, {load.error_rate:.1%} answered with an error"
    console.print(line)

    table = Table(title="SLOs (from Prometheus)")
    for column in ("service", "SLO", "objective", "burn rate 5m", "burn rate 1h", "budget left (30d)"):
        table.add_column(column)
    objectives = {_key(r): r for r in prom.query(c.OBJECTIVE)}
    budget = {_key(r): 1 - float(r["value"][1]) for r in objectives.values()}
    ratio5m = {_key(r): r for r in prom.query(c.sli_error_record("5m"))}
    ratio1h = {_key(r): r for r in prom.query(c.sli_error_record("1h"))}
    remaining = {_key(r): r for r in prom.query(c.PERIOD_ERROR_BUDGET_REMAINING)}
    for key in sorted(objectives):
        table.add_row(
            key[0],
            key[1],
            f"{float(objectives[key]['value'][1]):.4%}".rstrip("0").rstrip("."),
            _burn(ratio5m.get(key), budget[key]),
            _burn(ratio1h.get(key), budget[key]),
            _fmt(remaining.get(key), "{:.1%}"),
        )
    console.print(table)

    alerts = Table(title="Alertmanager notifications (local webhook)")
    for column in ("received", "alert", "severity", "status", "receiver"):
        alerts.add_column(column)
    seen: set[tuple[str, ...]] = set()
    log = Path(demo.stack.env().get("ALERTS_LOG", demo.stack.state_dir / "alerts.jsonl"))
    for note in notifications.read(log):
        note_key = (note.alertname, note.labels.get("severity", ""), note.status, note.starts_at)
        if note.received_at < demo.timeline.started or note_key in seen:
            continue
        seen.add(note_key)
        alerts.add_row(
            time.strftime("%H:%M:%S", time.localtime(note.received_at)),
            note.alertname,
            note.labels.get("severity", ""),
            note.status,
            note.receiver_path.strip("/"),
        )
    console.print(alerts)
    _times(demo)
    console.print(
        "generated files: "
        + ", ".join(str(p.relative_to(paths.REPO)) for p in _generated_roots() if p.exists())
    )


def _times(demo: Demo) -> None:
    m = demo.measured
    table = Table(title="Measured against the SLO math (100% errors)")
    for column in ("step", "measured", "SLO math (before Prometheus' lag)"):
        table.add_column(column)

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}s"

    fire = slo_timing.seconds_to_fire(demo.conditions, 1.0, m.healthy_s)
    resolve = (
        slo_timing.seconds_to_resolve(demo.conditions, 1.0, m.healthy_s, m.fault_s) if m.fault_s else None
    )
    table.add_row("page fires in Prometheus after the fault", fmt(m.fired_s), f"{fire or 0:.1f}s")
    table.add_row("page notification at the webhook", fmt(m.notified_s), "+ group_wait (5s)")
    table.add_row("page resolves in Prometheus after recovery", fmt(m.resolved_s), fmt(resolve))
    table.add_row(
        "resolved notification at the webhook", fmt(m.resolved_notified_s), "+ group_interval (30s)"
    )
    demo.console.print(table)
    start = demo.timeline.started
    demo.console.print(
        "timeline: " + "; ".join(f"{what} at +{at - start:.0f}s" for at, what in demo.timeline.events)
    )


def _generated_roots() -> list[Path]:
    return [paths.ALERTS, paths.DASHBOARDS / "generated", paths.COLLECTOR, paths.HELM / "examples"]


def _key(series: dict[str, Any]) -> tuple[str, str]:
    labels = series["metric"]
    return str(labels.get(c.LABEL_SERVICE, "")), str(labels.get(c.LABEL_SLO, ""))


def _burn(series: dict[str, Any] | None, budget: float) -> str:
    if not series or not budget:
        return "-"
    return f"{float(series['value'][1]) / budget:.2f}x"


def _fmt(series: dict[str, Any] | None, pattern: str) -> str:
    if not series:
        return "-"
    return pattern.format(float(series["value"][1]))


class _RichReporter:
    def __init__(self, console: Console):
        self.console = console

    def step(self, message: str) -> None:
        self.console.print(f"     {message}")

    def component(self, name: str, url: str, seconds: float | None, kept: bool) -> None:
        took = "already running" if kept else f"ready in {seconds or 0:.1f}s"
        self.console.print(f"     [green]✓[/] {name:14} {url}  ({took})")
