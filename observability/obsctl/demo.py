"""`make demo`: the whole loop on one machine, shown as it goes.

Generate every artifact, start the stack (PostgreSQL, Redis, tansu, the six services, Prometheus
with the generated rules, Alertmanager with the generated routing and a local webhook), drive
signed traffic, turn channel errors on until the payment-availability SLO pages, turn them off
until the page resolves, then summarise from Prometheus and Alertmanager's webhook.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from obsctl import artifacts, faults, paths
from obsctl.load.run import LoadProcess
from obsctl.promql import PrometheusAPI
from obsctl.stack.stack import Stack

PAGE_ALERT = "PaymentAvailabilityBudgetBurn"
PAGE_LABELS = {"severity": "critical"}
FAULT = "channel-errors"


@dataclass
class Timeline:
    started: float = field(default_factory=time.monotonic)
    events: list[tuple[float, str]] = field(default_factory=list)

    def mark(self, what: str) -> float:
        at = time.monotonic() - self.started
        self.events.append((at, what))
        return at


def _wait_for(console: Console, what: str, check: Callable[[], bool], timeout_s: float) -> float | None:
    """Poll `check` every 2 s under a spinner; seconds taken, or None on timeout."""
    began = time.monotonic()
    with console.status(what) as status:
        while time.monotonic() - began < timeout_s:
            if check():
                return time.monotonic() - began
            status.update(f"{what} ({time.monotonic() - began:.0f}s)")
            time.sleep(2)
    return None


def run(*, keep: bool = True, rate: float = 20.0, warmup_s: int = 60, console: Console | None = None) -> int:
    console = console or Console()
    timeline = Timeline()
    console.rule("[bold]payment observability demo")

    console.print("[bold]1/6[/] generating every artifact from observability/")
    files = artifacts.render()
    changed = artifacts.write(files, artifacts.stale_files(None, files))
    console.print(f"     {len(files)} files ({len(changed)} changed)")

    console.print("[bold]2/6[/] starting the local stack")
    stack = Stack(reporter=_RichReporter(console))
    env = stack.up()
    prom = PrometheusAPI(env["PROMETHEUS_URL"])
    timeline.mark("stack up")

    users = max(1, int(rate // 2))
    load = LoadProcess(env, users=users, user_rate=rate / users, duration_s=3600)
    exit_code = 0
    try:
        console.print(f"[bold]3/6[/] healthy traffic at {rate:g} req/s for {warmup_s}s")
        _wait_for(console, "healthy traffic", lambda: False, warmup_s)
        timeline.mark("healthy traffic")

        console.print(f"[bold]4/6[/] fault: {FAULT} on; waiting for {PAGE_ALERT} to page")
        console.print("     " + faults.set_fault(stack, FAULT, "on"))
        fault_on = timeline.mark(f"{FAULT} on")
        fired = _wait_for(
            console, "waiting for the page", lambda: bool(prom.firing(PAGE_ALERT, **PAGE_LABELS)), 300
        )
        if fired is None:
            console.print("[red]     the page did not fire within 5 minutes[/]")
            exit_code = 1
        else:
            timeline.mark(f"{PAGE_ALERT} firing")
            console.print(f"     [red]PAGE[/] {PAGE_ALERT} firing {fired:.0f}s after the fault")
            webhook = _wait_for(
                console, "waiting for Alertmanager's webhook", lambda: _notified(stack, "firing"), 120
            )
            if webhook is not None:
                console.print(
                    f"     Alertmanager delivered it to the webhook {fired + webhook:.0f}s after the fault"
                )

        console.print(f"[bold]5/6[/] fault: {FAULT} off; waiting for the page to resolve")
        console.print("     " + faults.set_fault(stack, FAULT, "off"))
        fault_off = timeline.mark(f"{FAULT} off")
        resolved = _wait_for(
            console, "waiting for recovery", lambda: not prom.firing(PAGE_ALERT, **PAGE_LABELS), 600
        )
        if resolved is None:
            console.print("[red]     the page did not resolve within 10 minutes[/]")
            exit_code = 1
        else:
            timeline.mark(f"{PAGE_ALERT} resolved")
            console.print(f"     [green]resolved[/] {resolved:.0f}s after the fault was cleared")
        _ = fault_on, fault_off
    finally:
        result = load.stop()
        faults.clear(stack)

    console.print("[bold]6/6[/] summary")
    _summary(console, prom, result.requests, result.error_rate, stack, timeline)
    if keep:
        console.print(
            "\nThe stack keeps running for exploration: "
            f"Prometheus {env['PROMETHEUS_URL']}, Alertmanager {env['ALERTMANAGER_URL']}, "
            f"gateway {env['GATEWAY_URL']} (details in {stack.env_file}). Stop it with [bold]make down[/]."
        )
    else:
        stack.down()
        console.print("\nThe stack is stopped.")
    return exit_code


def _notified(stack: Stack, status: str) -> bool:
    for note in _notifications(stack):
        payload = note.get("payload") or {}
        for alert in payload.get("alerts", []):
            if alert.get("labels", {}).get("alertname") == PAGE_ALERT and alert.get("status") == status:
                return True
    return False


def _notifications(stack: Stack) -> list[dict[str, Any]]:
    out = stack.state_dir / "alerts.jsonl"
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def _summary(
    console: Console, prom: PrometheusAPI, requests: int, error_rate: float, stack: Stack, timeline: Timeline
) -> None:
    payments = prom.scalar("sum(payments_total)") or 0
    succeeded = prom.scalar('sum(payments_total{status="succeeded"})') or 0
    console.print(
        f"payments recorded: {payments:.0f}, succeeded {succeeded:.0f}"
        f" ({(succeeded / payments if payments else 0):.1%}); load generator: {requests} requests,"
        f" {error_rate:.1%} answered with an error"
    )
    table = Table(title="SLOs (from Prometheus)")
    for column in ("service", "SLO", "objective", "burn rate now", "period burn", "budget left"):
        table.add_column(column)
    objectives = {_key(r): r for r in prom.query("slo:objective:ratio")}
    current = {_key(r): r for r in prom.query("slo:current_burn_rate:ratio")}
    period = {_key(r): r for r in prom.query("slo:period_burn_rate:ratio")}
    remaining = {_key(r): r for r in prom.query("slo:period_error_budget_remaining:ratio")}
    for key in sorted(objectives):
        table.add_row(
            key[0],
            key[1],
            f"{float(objectives[key]['value'][1]):.4%}",
            _fmt(current.get(key), "{:.2f}x"),
            _fmt(period.get(key), "{:.2f}x"),
            _fmt(remaining.get(key), "{:.1%}"),
        )
    console.print(table)
    alerts = Table(title="Alertmanager notifications (local webhook)")
    for column in ("at", "alert", "severity", "status"):
        alerts.add_column(column)
    seen: set[tuple[Any, ...]] = set()
    for note in _notifications(stack):
        payload = note.get("payload") or {}
        for alert in payload.get("alerts", []):
            labels = alert.get("labels", {})
            note_key = (
                labels.get("alertname"),
                labels.get("severity"),
                alert.get("status"),
                alert.get("startsAt"),
            )
            if note_key in seen:
                continue
            seen.add(note_key)
            at = time.strftime("%H:%M:%S", time.localtime(float(note["received_at"])))
            alerts.add_row(
                at, str(labels.get("alertname")), str(labels.get("severity")), str(alert.get("status"))
            )
    console.print(alerts)
    console.print("timeline: " + "; ".join(f"{what} at {at:.0f}s" for at, what in timeline.events))
    console.print(
        "generated files: "
        + ", ".join(str(p.relative_to(paths.REPO)) for p in _generated_roots() if p.exists())
    )


def _generated_roots() -> list[Path]:
    return [paths.ALERTS, paths.DASHBOARDS / "generated", paths.COLLECTOR, paths.HELM / "examples"]


def _key(series: dict[str, object]) -> tuple[str, str]:
    labels = series["metric"]
    assert isinstance(labels, dict)
    return str(labels.get("sloth_service", "")), str(labels.get("sloth_slo", ""))


def _fmt(series: dict[str, object] | None, pattern: str) -> str:
    if not series:
        return "-"
    value = series["value"]
    assert isinstance(value, list)
    return pattern.format(float(value[1]))


class _RichReporter:
    def __init__(self, console: Console):
        self.console = console

    def step(self, message: str) -> None:
        self.console.print(f"     {message}")

    def component(self, name: str, url: str, seconds: float | None, kept: bool) -> None:
        took = "already running" if kept else f"ready in {seconds or 0:.1f}s"
        self.console.print(f"     [green]✓[/] {name:14} {url}  ({took})")
