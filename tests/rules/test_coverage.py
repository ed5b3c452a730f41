"""Every alert has a promtool test, and every metric a rule queries exists."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import catalog
from obsctl.generate.promql import selectors
from obsctl.generate.rules import layout
from tests.rules.helpers import alert_rules, rules


def _tested_alert_names() -> set[str]:
    names: set[str] = set()
    for f in layout.promtool_test_files() + layout.slo_test_files():
        doc = yaml.safe_load(Path(f).read_text())
        for test in doc["tests"]:
            for art in test.get("alert_rule_test", []):
                names.add(art["alertname"])
            for pet in test.get("promql_expr_test", []):
                for sel in selectors(pet["expr"]):
                    if sel.name != "ALERTS":
                        continue
                    for label, op, value in sel.matchers:
                        if label == "alertname" and op == "=":
                            names.add(value)
                        elif label == "alertname" and op == "=~":
                            names.update(v for v in value.split("|") if re.fullmatch(r"[A-Za-z0-9]+", v))
    return names


def test_every_alert_has_at_least_one_promtool_test() -> None:
    alerts = {r["alert"] for r in alert_rules()}
    assert len(alerts) >= 20
    untested = sorted(alerts - _tested_alert_names())
    assert untested == [], f"alerts without a promtool test: {untested}"


def test_every_service_alert_test_has_a_negative_case() -> None:
    for f in layout.promtool_test_files():
        doc = yaml.safe_load(f.read_text())
        checks = [a for t in doc["tests"] for a in t.get("alert_rule_test", [])]
        assert any(a["exp_alerts"] == [] for a in checks), f"{f.name}: no case where the alert stays quiet"
        assert any(a["exp_alerts"] for a in checks), f"{f.name}: no case where the alert fires"


def test_every_queried_metric_is_in_the_catalog_or_a_generated_recording() -> None:
    known = catalog.default().known_series()
    recorded = {r["record"] for _, _, r in rules() if "record" in r}
    unknown = set()
    for f, group, rule in rules():
        for name in {s.name for s in selectors(rule["expr"])}:
            if name not in known and name not in recorded:
                unknown.add(f"{f.name}: {group}: {rule.get('alert') or rule.get('record')}: {name}")
    assert sorted(unknown) == []
    # The check itself sees the metrics (not vacuous).
    assert "http_server_request_duration_seconds_count" in {
        s.name for _, _, r in rules() for s in selectors(r["expr"])
    }
