"""The generated rules, evaluated by the real Prometheus on real traffic: every recording rule
returns data, and no rule group ever fails to evaluate."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from obsctl.generate.rules import layout
from tests.live.helpers import Live, eventually


def recording_rules() -> dict[str, str]:
    """id -> selector of every recording rule in the rule files Prometheus loads: the record name
    with the rule's own static labels, so each rule (each SLO's, each window's) is checked alone."""
    out = {}
    for path in layout.rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "record" not in rule:
                    continue
                labels = rule.get("labels") or {}
                matchers = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
                selector = f"{rule['record']}{{{matchers}}}" if matchers else rule["record"]
                out[f"{group['name']}:{selector}"] = selector
    return out


RECORDING_RULES = recording_rules()


@pytest.mark.slow
def test_prometheus_loaded_every_generated_rule_file(live: Live) -> None:
    loaded = {Path(g["file"]).name for g in live.prom.rules()}
    expected = {p.name for p in layout.rule_files()}
    assert expected, "no generated rule files found under alerts/"
    assert loaded == expected


@pytest.mark.slow
@pytest.mark.parametrize("rule", sorted(RECORDING_RULES))
def test_recording_rule_returns_data(live: Live, rule: str) -> None:
    selector = RECORDING_RULES[rule]
    series = eventually(f"a series of {selector}", lambda: live.prom.query(selector), timeout_s=60)
    assert all(s["value"][1] not in ("NaN", "+Inf", "-Inf") for s in series), series


@pytest.mark.slow
def test_no_rule_evaluation_fails(live: Live) -> None:
    groups = {g["name"] for g in live.prom.rules()}
    # Prometheus' own counter, scraped from itself: one series per rule group once evaluated.
    failures = eventually(
        "prometheus_rule_evaluation_failures_total for every rule group",
        lambda: (
            found
            if len(found := live.prom.query('prometheus_rule_evaluation_failures_total{job="prometheus"}'))
            >= len(groups)
            else None
        ),
        timeout_s=60,
    )
    failing = {s["metric"].get("rule_group"): s["value"][1] for s in failures if float(s["value"][1]) != 0}
    assert not failing, f"rule groups with evaluation failures: {failing}"
    unhealthy = [
        (g["name"], r.get("name"), r.get("lastError"))
        for g in live.prom.rules()
        for r in g["rules"]
        if r.get("health") != "ok"
    ]
    assert not unhealthy, unhealthy
