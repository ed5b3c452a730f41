"""Every target parses with its variables substituted, and selects only metrics that exist."""

from __future__ import annotations

import copy

import pytest

from obsctl.generate import conventions, promql
from obsctl.generate.dashboards import crossref, lint, queries
from obsctl.generate.rules import layout


def test_every_target_parses_and_selects_known_metrics(dashboards, dashboard_name):
    dashboard = dashboards[dashboard_name]
    targets = queries.dashboard_targets(dashboard)
    assert targets, f"{dashboard_name} has no targets"
    known = crossref.known_names()
    for t in targets:
        names = promql.metric_names(t.expr, f"{t.dashboard} / {t.panel} / {t.ref_id}")
        assert names, f"{t.dashboard} / {t.panel} / {t.ref_id} selects no metric"
        assert names <= known, f"{t.dashboard} / {t.panel}: unknown {sorted(names - known)}"


def test_renamed_metric_in_a_copy_fails_the_check(dashboards):
    broken = copy.deepcopy(dashboards["payments-overview.json"])
    panel = next(queries.panels(broken))
    original = panel["targets"][0]["expr"]
    assert "payments_total" in original
    panel["targets"][0]["expr"] = original.replace("payments_total", "payment_total")
    found = list(lint.target_metrics_known(broken))
    assert [f.message for f in found] == [
        "A: payment_total is neither in observability/catalog.yaml nor a recording rule in alerts/"
    ]
    assert list(lint.target_metrics_known(dashboards["payments-overview.json"])) == []


def test_recording_rules_are_read_from_the_generated_rule_files(tmp_path):
    rules = tmp_path / layout.RULES_DIR
    rules.mkdir(parents=True)
    (rules / "slo.yml").write_text(
        f"groups:\n- name: g\n  rules:\n  - record: {conventions.OBJECTIVE}\n    expr: vector(0.999)\n"
        "  - alert: A\n    expr: vector(1)\n"
    )
    # YAML elsewhere (promtool tests, hand-written or generated) is not a rule file.
    for other in (layout.SLO_TESTS_DIR, layout.PROMTOOL_TESTS_DIR):
        (tmp_path / other).mkdir(parents=True)
        (tmp_path / other / "t.yml").write_text(
            "groups:\n- name: x\n  rules:\n  - record: not_a_rule\n    expr: 1\n"
        )
    assert crossref.recording_rules(tmp_path) == frozenset({conventions.OBJECTIVE})


@pytest.mark.parametrize(
    ("expr", "values", "expected"),
    [
        ('x{job=~"$job"}', {"job": "payment"}, 'x{job=~"payment"}'),
        ('x{job=~"${job}"}', {"job": ["a", "b"]}, 'x{job=~"(a|b)"}'),
        ('x{i=~"[[instance]]"}', {"instance": ["h.1:80", "h2:80"]}, 'x{i=~"(h\\\\.1:80|h2:80)"}'),
        ("rate(x[$__rate_interval])", {}, "rate(x[1m])"),
        ('x{job=~"${job:regex}"}', {"job": ".+"}, 'x{job=~".+"}'),
    ],
)
def test_substitution_follows_grafana(expr, values, expected):
    assert queries.substitute(expr, values) == expected
    promql.parse(expected)


def test_unknown_variable_is_an_error():
    with pytest.raises(KeyError, match=r"\$nope"):
        queries.substitute('x{a="$nope"}', {})


def test_all_targets_substitutes_given_values():
    targets = queries.all_targets({"instance": ["localhost:9101", "localhost:9102"], "job": "payment"})
    red = [t for t in targets if t.dashboard == "service-red-payment"]
    assert red and all("$" not in t.expr for t in targets)
    assert any('instance=~"(localhost:9101|localhost:9102)"' in t.expr for t in red)
    assert {t.dashboard for t in targets} >= {"payments-overview", "slo-error-budgets", "otelcol-health"}
