"""The dashboard-linter rule set on every generated dashboard, and proof that each rule can fail."""

from __future__ import annotations

import copy

import pytest

from obsctl.generate.dashboards import lint, queries, render


@pytest.mark.parametrize("rule", sorted(lint.RULES))
def test_rule_holds(dashboards, dashboard_name, rule):
    dashboard = dashboards[dashboard_name]
    entries = lint.exceptions()
    found = [f for f in lint.RULES[rule](dashboard) if not lint._excepted(f, entries)]
    assert [str(f) for f in found] == []


def test_exceptions_have_reasons_and_still_apply(dashboards):
    every = [f for d in dashboards.values() for rule in lint.RULES.values() for f in rule(d)]
    for entry in lint.exceptions():
        assert str(entry.get("reason", "")).strip(), f"{lint.EXCEPTIONS}: {entry} has no reason"
        assert entry.get("rule") in lint.RULES, f"{lint.EXCEPTIONS}: unknown rule in {entry}"
        assert any(lint._excepted(f, [entry]) for f in every), f"{lint.EXCEPTIONS}: {entry} matches nothing"


def _payments(dashboards):
    return copy.deepcopy(dashboards["payments-overview.json"])


def _rules_failing(dashboard):
    return sorted({f.rule for f in lint.findings(dashboard)})


def _first_panel(dashboard):
    return next(queries.panels(dashboard))


def test_missing_datasource_variable_fails(dashboards):
    d = _payments(dashboards)
    d["templating"]["list"] = [v for v in d["templating"]["list"] if v["type"] != "datasource"]
    assert _rules_failing(d) == ["template-datasource"]


def test_hard_coded_datasource_fails(dashboards):
    d = _payments(dashboards)
    _first_panel(d)["targets"][0]["datasource"] = {"type": "prometheus", "uid": "prod-prometheus"}
    assert _rules_failing(d) == ["panel-datasource"]


@pytest.mark.parametrize(
    ("expr", "rule"),
    [
        ("sum(rate(payments_total[5m]))", "target-rate-interval"),
        ("sum(increase(refunds_total[1h]))", "target-rate-interval"),
        ("sum(payments_total)", "target-counter-agg"),
        ("payment_duration_seconds_count", "target-counter-agg"),
        ("sum(rate(payments_total[$__rate_interval]) +", "target-promql"),
        ("sum(rate(payments_totl[$__rate_interval]))", "target-metric-known"),
        ('sum(rate(payments_total{job=~"$undefined"}[$__rate_interval]))', "target-promql"),
    ],
)
def test_bad_query_fails(dashboards, expr, rule):
    d = _payments(dashboards)
    _first_panel(d)["targets"][0]["expr"] = expr
    assert _rules_failing(d) == [rule]


@pytest.mark.parametrize("key", ["title", "description"])
def test_missing_title_or_description_fails(dashboards, key):
    d = _payments(dashboards)
    _first_panel(d)[key] = ""
    assert "panel-title-description" in _rules_failing(d)


def test_missing_unit_fails(dashboards):
    d = _payments(dashboards)
    del _first_panel(d)["fieldConfig"]["defaults"]["unit"]
    assert _rules_failing(d) == ["panel-units"]


def test_duplicate_panel_id_fails(dashboards):
    d = _payments(dashboards)
    d["panels"][2]["id"] = d["panels"][1]["id"]
    assert _rules_failing(d) == ["panel-id-unique"]


def test_overlapping_panels_fail(dashboards):
    d = _payments(dashboards)
    d["panels"][2]["gridPos"] = dict(d["panels"][1]["gridPos"], x=d["panels"][1]["gridPos"]["x"] + 1)
    assert _rules_failing(d) == ["grid-position"]


@pytest.mark.parametrize("key", ["uid", "title"])
def test_dashboard_without_uid_or_title_fails(dashboards, key):
    d = _payments(dashboards)
    d[key] = ""
    assert "dashboard-uid-title" in _rules_failing(d)


def test_exception_file_silences_only_its_entry(dashboards, tmp_path, monkeypatch):
    d = _payments(dashboards)
    _first_panel(d)["fieldConfig"]["defaults"]["unit"] = ""
    exceptions = tmp_path / "lint-exceptions.yaml"
    exceptions.write_text(
        "exceptions:\n"
        f"  - {{dashboard: payments-overview, panel: {_first_panel(d)['title']}, rule: panel-units,"
        " reason: test}\n"
    )
    monkeypatch.setattr(lint, "EXCEPTIONS", exceptions)
    assert lint.findings(d) == []
    d["panels"][2]["fieldConfig"]["defaults"]["unit"] = ""
    assert _rules_failing(d) == ["panel-units"]


def test_uids_are_unique_and_stable():
    names = sorted(render.dashboards())
    assert len(names) == len(set(names))
    assert "payments-overview.json" in names and "slo-error-budgets.json" in names
