"""alertmanager.yml: amtool accepts it, routes by team and severity, and pages inhibit tickets."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
import yaml

import catalog
from obsctl.generate.rules.alertmanager import render_alertmanager
from obsctl.generate.rules.checks import check_alertmanager
from tests.rules.helpers import ALERTMANAGER, run


def test_amtool_check_config(amtool: str) -> None:
    result = run([amtool, "check-config", str(ALERTMANAGER)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("team", sorted(catalog.default().teams))
@pytest.mark.parametrize(
    ("severity", "tier"), [("critical", "page"), ("warning", "ticket"), ("info", "ticket")]
)
def test_routes_by_team_and_severity(team: str, severity: str, tier: str, amtool: str) -> None:
    result = run(
        [
            amtool,
            "config",
            "routes",
            "test",
            f"--config.file={ALERTMANAGER}",
            f"--verify.receivers={team}-{tier}",
            f"team={team}",
            f"severity={severity}",
            "alertname=Probe",
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_unknown_team_goes_to_the_default_receiver(amtool: str) -> None:
    args = [amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}"]
    assert run([*args, "--verify.receivers=default", "team=nobody", "severity=critical"]).returncode == 0
    assert run([*args, "--verify.receivers=edge-page", "team=nobody", "severity=critical"]).returncode != 0


def test_check_function_reports_no_problem() -> None:
    assert check_alertmanager() == []


def test_render_with_another_base_url() -> None:
    text = render_alertmanager("http://127.0.0.1:9999/hook")
    urls = {c["url"] for r in yaml.safe_load(text)["receivers"] for c in r.get("webhook_configs", [])}
    assert urls and all(u.startswith("http://127.0.0.1:9999/hook/") for u in urls)
    assert render_alertmanager() == ALERTMANAGER.read_text()


def _alert(name: str, **labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, **labels}, "annotations": {"summary": "test."}}


def test_page_inhibits_ticket_of_the_same_slo_only(alertmanager_server: Callable[..., Any]) -> None:
    am = alertmanager_server(config_text=render_alertmanager("http://127.0.0.1:9/unreachable"))
    # Sloth's label names, written out: the routing is tested against the labels Sloth's rules carry.
    slo = {"team": "edge", "sloth_service": "gateway"}
    alerts = [
        _alert(
            "PaymentAvailabilityBudgetBurn",
            severity="critical",
            sloth_severity="page",
            sloth_id="gateway-payment-availability",
            sloth_slo="payment-availability",
            **slo,
        ),
        _alert(
            "PaymentAvailabilityBudgetBurn",
            severity="warning",
            sloth_severity="ticket",
            sloth_id="gateway-payment-availability",
            sloth_slo="payment-availability",
            **slo,
        ),
        # A ticket of another SLO stays active.
        _alert(
            "PaymentLatencyBudgetBurn",
            severity="warning",
            sloth_severity="ticket",
            sloth_id="gateway-payment-latency",
            sloth_slo="payment-latency",
            **slo,
        ),
    ]
    requests.post(f"{am.url}/api/v2/alerts", json=alerts, timeout=10).raise_for_status()
    deadline = time.monotonic() + 20
    while True:
        state = {(a["labels"]["alertname"], a["labels"]["sloth_severity"]): a["status"] for a in am.alerts()}
        if len(state) == 3 and any(s["inhibitedBy"] for s in state.values()):
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.5)
    assert state[("PaymentAvailabilityBudgetBurn", "ticket")]["state"] == "suppressed"
    assert state[("PaymentAvailabilityBudgetBurn", "ticket")]["inhibitedBy"]
    assert state[("PaymentAvailabilityBudgetBurn", "page")]["state"] == "active"
    assert state[("PaymentLatencyBudgetBurn", "ticket")]["state"] == "active"
