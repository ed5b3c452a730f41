"""The SLO dashboard works on rules shaped like Sloth's output, in a real Prometheus.

A rule file records every Sloth series the dashboard reads, with the labels Sloth puts on them
(sloth_window only on the SLI windows), plus one firing SLO alert. Every target of the dashboard
must then return data, and the burn-rate joins must compute error ratio / budget.
"""

from __future__ import annotations

import time
from pathlib import Path

import yaml

from obsctl.generate import promql
from obsctl.generate.dashboards import queries

# Sloth's recording and label names are written out in this file, not taken from
# obsctl.generate.conventions: the rules stand for Sloth's own output, the contract the dashboard meets.
SLO = {
    "sloth_id": "gateway-payment-availability",
    "sloth_service": "gateway",
    "sloth_slo": "payment-availability",
}
ERROR_RATIO = 0.002
BUDGET = 0.0005


def _sloth_rules(names: set[str]) -> dict:
    rules = []
    for name in sorted(names):
        labels = dict(SLO)
        value = 0.5
        if name.startswith("slo:sli_error:ratio_rate"):
            labels["sloth_window"] = name.removeprefix("slo:sli_error:ratio_rate")
            value = ERROR_RATIO
        elif name == "slo:error_budget:ratio":
            value = BUDGET
        elif name == "sloth_slo_info":
            labels.update(sloth_mode="cli-gen-prom", sloth_spec="prometheus/v1", sloth_objective="99.95")
            value = 1
        elif name == "ALERTS":
            continue
        rules.append({"record": name, "expr": f"vector({value})", "labels": labels})
    alert_labels = {**SLO, "severity": "critical"}
    alert = {"alert": "PaymentAvailabilityBudgetBurn", "expr": "vector(1)", "labels": alert_labels}
    return {"groups": [{"name": "sloth-shaped", "interval": "1s", "rules": [*rules, alert]}]}


def test_every_slo_panel_returns_data_on_sloth_rules(dashboards, prometheus_server, tmp_path: Path):
    dashboard = dashboards["slo-error-budgets.json"]
    targets = queries.dashboard_targets(dashboard)
    names = set().union(*(promql.metric_names(t.expr) for t in targets))
    assert {"slo:objective:ratio", "slo:period_error_budget_remaining:ratio", "ALERTS"} <= names
    rule_file = tmp_path / "sloth.yml"
    rule_file.write_text(yaml.safe_dump(_sloth_rules(names), sort_keys=False))
    prom = prometheus_server(rule_files=[rule_file], interval="1s")

    # Wait (bounded) until the rules have been evaluated and the alert is firing.
    deadline = time.monotonic() + 60
    while not prom.query('ALERTS{alertstate="firing"}') and time.monotonic() < deadline:
        time.sleep(0.5)

    empty = [f"{t.panel} / {t.ref_id}: {t.expr}" for t in targets if not prom.query(t.expr)]
    assert empty == []

    burn = [t for t in targets if t.panel.startswith("Burn rate")]
    assert len(burn) == 8
    for t in burn:
        values = [float(s["value"][1]) for s in prom.query(t.expr)]
        assert values == [ERROR_RATIO / BUDGET], t.expr
