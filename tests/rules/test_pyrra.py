"""Pyrra's ServiceLevelObjective (pyrra.dev/v1alpha1) as an input: ratio, latency, latencyNative
(in tests/rules/test_native_histogram.py) and bool_gauge indicators, grouping, window and the
target as a string percentage; alerts proven in promtool (both versions), bad input refused."""

from __future__ import annotations

from pathlib import Path

from tests.rules.helpers import run
from tests.rules.slo_specs import firing, generate, promtool_test, refusal, rules_of

# ruff: noqa: E501
RATIO = """\
apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata:
  name: api-errors
  namespace: shop
  labels: {pyrra.dev/team: web, app.kubernetes.io/name: api, tier: "1"}
spec:
  description: Requests of each handler answered without a 5xx
  target: "99.5"
  window: 2w
  indicator:
    ratio:
      errors: {metric: 'http_requests_total{job="api",code=~"5[0-9][0-9]"}'}
      total: {metric: 'http_requests_total{job="api"}'}
      grouping: [handler]
"""

LATENCY = """\
apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: api-latency, namespace: shop}
spec:
  target: "99"
  window: 4w
  alerting: {name: ApiLatencyBudgetBurn}
  indicator:
    latency:
      success: {metric: 'http_request_duration_seconds_bucket{job="api",le="0.2"}'}
      total: {metric: 'http_request_duration_seconds_count{job="api"}'}
"""

BOOL_GAUGE = """\
apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: probe, namespace: edge}
spec:
  target: "99.9"
  window: 4w
  indicator:
    bool_gauge:
      metric: 'probe_success{job="blackbox"}'
      grouping: [instance]
"""


def test_every_indicator_generates_rules_both_promtools_accept(promtool: str, tmp_path: Path) -> None:
    rules = generate(tmp_path, "---\n".join([RATIO, LATENCY, BOOL_GAUGE]))
    result = run([promtool, "check", "rules", "--lint-fatal", str(rules)])
    assert result.returncode == 0, result.stdout + result.stderr
    all_rules = rules_of(rules)
    objective = {r["labels"]["sloth_id"]: r for r in all_rules if r.get("record") == "slo:objective:ratio"}
    assert set(objective) == {"shop-api-errors", "shop-api-latency", "edge-probe"}
    assert objective["shop-api-errors"]["expr"] == "vector(0.995)"
    # pyrra.dev/ labels lose the prefix, Kubernetes' are left out, valid names stay.
    assert {
        k: v for k, v in objective["shop-api-errors"]["labels"].items() if not k.startswith("sloth_")
    } == {"team": "web", "tier": "1"}
    assert any(r.get("record") == "slo:sli_error:ratio_rate2w" for r in all_rules)
    info = next(r for r in all_rules if r.get("record") == "sloth_slo_info")
    assert info["labels"]["sloth_spec"] == "pyrra.dev/v1alpha1"
    assert {r["alert"] for r in all_rules if "alert" in r} == {
        "ErrorBudgetBurn",
        "ApiLatencyBudgetBurn",
        "SLIAbsent",
    }


def test_grouping_alerts_per_group(promtool: str, tmp_path: Path) -> None:
    rules = generate(tmp_path, RATIO)
    series = [
        {"series": 'http_requests_total{job="api",handler="/pay",code="200"}', "values": "0+60x30 1800+0x60"},
        {"series": 'http_requests_total{job="api",handler="/pay",code="500"}', "values": "0x30 0+60x60"},
        {"series": 'http_requests_total{job="api",handler="/list",code="200"}', "values": "0+60x90"},
    ]
    promtool_test(
        promtool,
        tmp_path,
        rules,
        series,
        [
            firing("ErrorBudgetBurn", "29m", 0),
            firing("ErrorBudgetBurn", "45m", 1, handler="/pay", sloth_severity="page", team="web"),
            firing("ErrorBudgetBurn", "90m", 0, handler="/list"),
            firing("SLIAbsent", "90m", 0),
        ],
    )


def test_latency_counts_requests_slower_than_the_bucket(promtool: str, tmp_path: Path) -> None:
    rules = generate(tmp_path, LATENCY)
    slow = [
        {"series": 'http_request_duration_seconds_bucket{job="api",le="0.2"}', "values": "0+60x30 1800+0x60"},
        {"series": 'http_request_duration_seconds_count{job="api"}', "values": "0+60x90"},
    ]
    promtool_test(
        promtool,
        tmp_path,
        rules,
        slow,
        [
            firing("ApiLatencyBudgetBurn", "29m", 0),
            firing("ApiLatencyBudgetBurn", "60m", 1, sloth_severity="page"),
        ],
    )
    fast = [
        {"series": 'http_request_duration_seconds_bucket{job="api",le="0.2"}', "values": "0+60x90"},
        {"series": 'http_request_duration_seconds_count{job="api"}', "values": "0+60x90"},
    ]
    promtool_test(promtool, tmp_path, rules, fast, [firing("ApiLatencyBudgetBurn", "90m", 0)])


def test_bool_gauge_counts_its_zero_samples(promtool: str, tmp_path: Path) -> None:
    rules = generate(tmp_path, BOOL_GAUGE)
    series = [
        {"series": 'probe_success{job="blackbox",instance="a"}', "values": "1x30 0x60"},
        {"series": 'probe_success{job="blackbox",instance="b"}', "values": "1x90"},
    ]
    promtool_test(
        promtool,
        tmp_path,
        rules,
        series,
        [
            firing("ErrorBudgetBurn", "29m", 0),
            firing("ErrorBudgetBurn", "40m", 1, instance="a", sloth_severity="page"),
            firing("ErrorBudgetBurn", "90m", 0, instance="b"),
        ],
    )


def test_alerting_switched_off_writes_recordings_only(tmp_path: Path) -> None:
    for off in ("{burnrates: false}", "{disabled: true}"):
        rules = generate(tmp_path, BOOL_GAUGE.replace("  window: 4w\n", f"  window: 4w\n  alerting: {off}\n"))
        alerts = {r["alert"] for r in rules_of(rules) if "alert" in r}
        assert alerts == {"SLIAbsent"}, off
        assert any(r.get("record") == "slo:sli_error:ratio_rate5m" for r in rules_of(rules))


def test_bad_specs_name_file_object_field(tmp_path: Path) -> None:
    two = RATIO.replace("  indicator:\n", "  indicator:\n    bool_gauge: {metric: up}\n")
    err = refusal(tmp_path, two)
    assert (
        "spec.indicator: got ratio and bool_gauge; expected exactly one of ratio, latency, latencyNative or bool_gauge"
        in err
    ), err
    err = refusal(tmp_path, RATIO.replace('target: "99.5"', 'target: "a lot"'))
    assert "ServiceLevelObjective api-errors: spec.target: got 'a lot'; expected a percentage" in err
    err = refusal(tmp_path, RATIO.replace("window: 2w", "window: two weeks"))
    assert "ServiceLevelObjective api-errors: spec.window: got 'two weeks'" in err
    err = refusal(tmp_path, RATIO.replace("window: 2w", "window: 3d"))
    assert "SLO api-errors: period: got period '3d'; expected 7d or longer" in err
    err = refusal(
        tmp_path,
        RATIO.replace(
            'errors: {metric: \'http_requests_total{job="api",code=~"5[0-9][0-9]"}\'}',
            "errors: {metric: 'http_requests_total{job='}",
        ),
    )
    assert "SLO api-errors: spec.indicator.ratio.errors.metric:" in err
    err = refusal(tmp_path, RATIO.replace("kind: ServiceLevelObjective", "kind: SLO"))
    assert "kind: got 'SLO'; expected ServiceLevelObjective (pyrra.dev/v1alpha1)" in err


def test_schema_and_semantic_problems_are_reported_together(tmp_path: Path) -> None:
    err = refusal(tmp_path, RATIO.replace('target: "99.5"', 'target: "101"\n  colour: red'))
    assert "spec.colour: unknown key" in err
    assert "SLO api-errors: objective: got 101; expected a percentage greater than 0 and less than 100" in err


def test_an_object_read_back_from_a_cluster_is_accepted(tmp_path: Path) -> None:
    from_cluster = (
        RATIO.replace(
            "  namespace: shop\n",
            "  namespace: shop\n  uid: 0b7e\n  resourceVersion: '42'\n  creationTimestamp: '2024-01-01T00:00:00Z'\n",
        )
        + "status: {type: PrometheusRule}\n"
    )
    rules = generate(tmp_path, from_cluster)
    assert any(r.get("alert") == "ErrorBudgetBurn" for r in rules_of(rules))
