"""OpenSLO v1: every kind in one input, references, several objectives, any rolling window,
Occurrences, Timeslices and RatioTimeslices budgeting, ratio (good, bad, raw) and threshold
metrics, alert policies and conditions turned into alerts (proven in promtool, both versions),
and the refusals of what Prometheus cannot express ("not supported: ...", never an unknown key).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from obsctl.generate.durations import hours
from obsctl.generate.rules import windows
from obsctl.generate.slo import periods
from obsctl.generate.slo.numbers import clean
from tests.rules.helpers import run
from tests.rules.slo_specs import firing, generate, promtool_test, refusal, rules_of, value

# ruff: noqa: E501  (specs and PromQL read as users write them)
Q_BAD = 'sum(rate(http_requests_total{job="shop",code=~"5[0-9][0-9]"}[{{.window}}]))'
Q_TOTAL = 'sum(rate(http_requests_total{job="shop"}[{{.window}}]))'
Q_GOOD = 'sum(rate(http_requests_total{job="shop",code=~"2[0-9][0-9]"}[{{.window}}]))'

SHARED = f"""\
apiVersion: openslo/v1
kind: DataSource
metadata: {{name: prom, displayName: Prometheus}}
spec: {{description: ours, type: Prometheus, connectionDetails: {{url: "http://prometheus:9090"}}}}
---
apiVersion: openslo/v1
kind: Service
metadata: {{name: shop, displayName: Shop}}
spec: {{description: The shop}}
---
apiVersion: openslo/v1
kind: AlertNotificationTarget
metadata: {{name: oncall}}
spec: {{description: pager, target: pagerduty}}
---
apiVersion: openslo/v1
kind: AlertCondition
metadata: {{name: fast-burn, displayName: Fast burn}}
spec:
  description: Burning 14.4x over an hour
  severity: page
  condition: {{kind: burnrate, threshold: 14.4, lookbackWindow: 1h, alertAfter: 2m}}
---
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {{name: shop-paging}}
spec:
  description: Pages the shop team
  alertWhenBreaching: true
  alertWhenResolved: true
  alertWhenNoData: true
  conditions: [{{conditionRef: fast-burn}}]
  notificationTargets: [{{targetRef: oncall}}]
---
apiVersion: openslo/v1
kind: SLI
metadata: {{name: shop-errors}}
spec:
  description: 5xx of all requests
  ratioMetric:
    counter: true
    bad: {{metricSource: {{metricSourceRef: prom, spec: {{query: '{Q_BAD}'}}}}}}
    total: {{metricSource: {{metricSourceRef: prom, type: Prometheus, spec: {{query: '{Q_TOTAL}'}}}}}}
"""

AVAILABILITY = (
    SHARED
    + """\
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: availability
  displayName: Shop availability
  labels: {team: [shop, web]}
  annotations: {openslo.com/note: ours}
spec:
  description: Requests answered without a 5xx
  service: shop
  indicatorRef: shop-errors
  budgetingMethod: Occurrences
  timeWindow: [{duration: 2w, isRolling: true}]
  objectives:
    - {displayName: strict, target: 0.999}
    - {displayName: loose, targetPercent: 99}
  alertPolicies: [{alertPolicyRef: shop-paging}]
"""
)

# 60 minutes healthy (60 requests a minute), then every request fails.
OUTAGE = [
    {"series": 'http_requests_total{job="shop",code="200"}', "values": "0+60x60 3600+0x90"},
    {"series": 'http_requests_total{job="shop",code="500"}', "values": "0x60 0+60x90"},
]
HEALTHY = [{"series": 'http_requests_total{job="shop",code="200"}', "values": "0+60x150"}]


def test_every_kind_in_one_input_generates_rules_both_promtools_accept(promtool: str, tmp_path: Path) -> None:
    rules = generate(tmp_path, AVAILABILITY)
    result = run([promtool, "check", "rules", "--lint-fatal", str(rules)])
    assert result.returncode == 0, result.stdout + result.stderr
    by_name = {(r.get("alert") or r.get("record"), r["labels"].get("sloth_slo")) for r in rules_of(rules)}
    # One SLO (rule groups, names) per objective; the policy's condition as the alert, not the tiers.
    for slo in ("availability-0", "availability-1"):
        assert ("FastBurn", slo) in by_name and ("FastBurnNoData", slo) in by_name
        assert ("slo:sli_error:ratio_rate2w", slo) in by_name
    assert not any(name == "ShopAvailabilityBudgetBurn" for name, _ in by_name)
    alert = next(r for r in rules_of(rules) if r.get("alert") == "FastBurn")
    assert alert["for"] == "2m"
    assert alert["labels"]["openslo_notification_targets"] == "oncall"
    assert alert["labels"]["openslo_alert_policy"] == "shop-paging"
    assert alert["labels"]["severity"] == "page"
    # OpenSLO label values may be lists: one Prometheus label value, joined.
    assert (
        next(r for r in rules_of(rules) if r.get("record") == "slo:objective:ratio")["labels"]["team"]
        == "shop,web"
    )


def test_each_objective_alerts_on_its_own_budget(promtool: str, tmp_path: Path) -> None:
    rules = generate(tmp_path, AVAILABILITY)
    promtool_test(
        promtool,
        tmp_path,
        rules,
        OUTAGE,
        [
            firing("FastBurn", "59m", 0),
            # 99.9%: 14.4 x 0.1% over 1h passes within a minute of the outage, then alertAfter 2m.
            firing("FastBurn", "66m", 1, sloth_slo="availability-0"),
            # 99%: 14.4% of an hour is 8.6 minutes of outage, plus 2m.
            firing("FastBurn", "66m", 0, sloth_slo="availability-1"),
            firing("FastBurn", "80m", 1, sloth_slo="availability-1"),
            firing("FastBurnNoData", "80m", 0),
        ],
    )


def test_a_healthy_service_raises_nothing_and_a_vanished_one_raises_no_data(
    promtool: str, tmp_path: Path
) -> None:
    rules = generate(tmp_path, AVAILABILITY)
    promtool_test(
        promtool,
        tmp_path,
        rules,
        HEALTHY,
        [firing("FastBurn", "150m", 0), firing("FastBurnNoData", "150m", 0)],
    )
    gone = [{"series": 'http_requests_total{job="shop",code="200"}', "values": "0+60x30"}]
    promtool_test(
        promtool,
        tmp_path,
        rules,
        gone,
        [
            firing("FastBurnNoData", "60m", 0),
            firing("FastBurnNoData", "100m", 2),
            firing("FastBurn", "100m", 0),
        ],
    )


INLINE_POLICY = (
    SHARED
    + f"""\
---
apiVersion: openslo/v1
kind: SLO
metadata: {{name: checkout}}
spec:
  service: shop
  budgetingMethod: Occurrences
  timeWindow: [{{duration: 90d, isRolling: true}}]
  objectives: [{{target: 0.999}}]
  indicator:
    metadata: {{name: checkout-good}}
    spec:
      ratioMetric:
        good: {{metricSource: {{type: Prometheus, spec: {{query: '{Q_GOOD}'}}}}}}
        total: {{metricSource: {{type: prometheus, spec: {{query: '{Q_TOTAL}'}}}}}}
  alertPolicies:
    - kind: AlertPolicy
      metadata: {{name: inline-policy}}
      spec:
        alertWhenBreaching: true
        conditions:
          - kind: AlertCondition
            metadata: {{name: slow-burn}}
            spec:
              severity: ticket
              condition: {{kind: burnrate, threshold: 3, lookbackWindow: 6h, alertAfter: 0m}}
        notificationTargets:
          - kind: AlertNotificationTarget
            metadata: {{name: mail}}
            spec: {{target: email}}
"""
)


def test_inline_policy_condition_and_target_with_a_lookback_no_alert_window_has(
    promtool: str, tmp_path: Path
) -> None:
    rules = generate(tmp_path, INLINE_POLICY)
    names = [r.get("record") for r in rules_of(rules)]
    assert "slo:sli_error:ratio_rate90d" in names
    alert = next(r for r in rules_of(rules) if r.get("alert") == "SlowBurn")
    assert "for" not in alert
    assert alert["labels"]["openslo_notification_targets"] == "mail"
    assert f"> {clean(Decimal(3) * Decimal('0.001'))}" in alert["expr"]
    # Good/total: an outage without any good series pages (errors = total - (good or 0)).
    only_errors = [{"series": 'http_requests_total{job="shop",code="503"}', "values": "0+60x90"}]
    promtool_test(
        promtool,
        tmp_path,
        rules,
        only_errors,
        [
            firing("SlowBurn", "10m", 1),
            value(
                'slo:sli_error:ratio_rate6h{sloth_slo="checkout"}',
                "30m",
                1,
                'slo:sli_error:ratio_rate6h{sloth_id="shop-checkout", sloth_service="shop", sloth_slo="checkout", sloth_window="6h"}',
            ),
        ],
    )


def _slices_spec(method: str, extra: str, query_bad: str = Q_BAD) -> str:
    return f"""\
apiVersion: openslo/v1
kind: SLO
metadata: {{name: slices}}
spec:
  service: shop
  budgetingMethod: {method}
  timeWindow: [{{duration: 4w, isRolling: true}}]
  objectives: [{{target: 0.99, timeSliceWindow: 2m{extra}}}]
  indicator:
    metadata: {{name: slices}}
    spec:
      ratioMetric:
        bad: {{metricSource: {{type: Prometheus, spec: {{query: '{query_bad}'}}}}}}
        total: {{metricSource: {{type: Prometheus, spec: {{query: '{Q_TOTAL}'}}}}}}
"""


def _errors(share_percent: int) -> list[dict[str, str]]:
    """From 60m on, `share_percent` of the 100 requests a minute fail."""
    return [
        {
            "series": 'http_requests_total{job="shop",code="200"}',
            "values": f"0+100x60 6000+{100 - share_percent}x120",
        },
        {"series": 'http_requests_total{job="shop",code="500"}', "values": f"0x60 0+{share_percent}x120"},
    ]


SLICE_SLI = 'round(1000 * slo:sli_error:ratio_rate1h{sloth_slo="slices"})'


def test_timeslices_count_bad_slices_not_bad_requests(promtool: str, tmp_path: Path) -> None:
    rules = generate(tmp_path, _slices_spec("Timeslices", ", timeSliceTarget: 0.9"))
    assert any(r.get("record") == "slo:sli_good_timeslice:bool" for r in rules_of(rules))
    labels = '{sloth_id="shop-slices", sloth_service="shop", sloth_slo="slices", sloth_window="1h"}'
    # 5% errors: every 2m slice is 95% good, above the slice target of 90%: no bad slice, no
    # alert, although 5% of requests against a 1% budget would page with Occurrences.
    promtool_test(
        promtool,
        tmp_path,
        rules,
        _errors(5),
        [
            value(SLICE_SLI, "150m", 0, labels),
            firing("ShopSlicesBudgetBurn", "150m", 0),
            firing("SLIAbsent", "150m", 0),
        ],
    )
    # 50% errors: every slice is bad; after an hour the share of bad slices over 1h is 1.
    promtool_test(
        promtool,
        tmp_path,
        rules,
        _errors(50),
        [
            value(SLICE_SLI, "59m", 0, labels),
            value(SLICE_SLI, "125m", 1000, labels),
            firing("ShopSlicesBudgetBurn", "59m", 0),
            firing("ShopSlicesBudgetBurn", "80m", 1, sloth_severity="page"),
        ],
    )


def test_ratio_timeslices_average_the_slices_ratios(promtool: str, tmp_path: Path) -> None:
    rules = generate(tmp_path, _slices_spec("RatioTimeslices", ""))
    assert any(r.get("record") == "slo:sli_error_timeslice:ratio" for r in rules_of(rules))
    labels = '{sloth_id="shop-slices", sloth_service="shop", sloth_slo="slices", sloth_window="1h"}'
    promtool_test(
        promtool,
        tmp_path,
        rules,
        _errors(10),
        [
            value(SLICE_SLI, "59m", 0, labels),
            value(SLICE_SLI, "125m", 100, labels),
            firing("ShopSlicesBudgetBurn", "59m", 0),
            # 10x the budget: below the page's 13.44x over 1h, above the ticket's 2.8x over 1d and 2h.
            firing("ShopSlicesBudgetBurn", "125m", 0, sloth_severity="page"),
            firing("ShopSlicesBudgetBurn", "125m", 1, sloth_severity="ticket"),
        ],
    )


THRESHOLD = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: queue}
spec:
  service: worker
  budgetingMethod: %s
  timeWindow: [{duration: 4w, isRolling: true}]
  objectives: [{target: 0.99, op: %s, value: 100%s}]
  indicator:
    metadata: {name: queue-depth}
    spec:
      thresholdMetric:
        metricSource: {type: Prometheus, spec: {query: 'max(queue_depth{job="worker"})'}}
"""


@pytest.mark.parametrize(
    "method,extra",
    [
        ("Occurrences", ""),
        ("Timeslices", ", timeSliceWindow: 5m, timeSliceTarget: 0.8"),
        ("RatioTimeslices", ", timeSliceWindow: 5m"),
    ],
)
def test_threshold_metric_samples_meet_op_and_value(
    promtool: str, tmp_path: Path, method: str, extra: str
) -> None:
    rules = generate(tmp_path, THRESHOLD % (method, "lt", extra))
    assert "< bool 100" in next(r for r in rules_of(rules) if "timeslice" in r.get("record", ""))["expr"]
    deep = [{"series": 'queue_depth{job="worker"}', "values": "10x60 500x60"}]
    promtool_test(
        promtool,
        tmp_path,
        rules,
        deep,
        [
            firing("WorkerQueueBudgetBurn", "59m", 0),
            firing("WorkerQueueBudgetBurn", "80m", 1, sloth_severity="page"),
        ],
    )
    shallow = [{"series": 'queue_depth{job="worker"}', "values": "10x120"}]
    promtool_test(promtool, tmp_path, rules, shallow, [firing("WorkerQueueBudgetBurn", "120m", 0)])


def test_threshold_op_gte_reads_the_other_way(promtool: str, tmp_path: Path) -> None:
    rules = generate(tmp_path, THRESHOLD % ("Occurrences", "gte", ""))
    # >= 100 is good: a depth of 10 is bad.
    promtool_test(
        promtool,
        tmp_path,
        rules,
        [{"series": 'queue_depth{job="worker"}', "values": "10x60"}],
        [firing("WorkerQueueBudgetBurn", "60m", 1, sloth_severity="page")],
    )


RAW = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: probe}
spec:
  service: edge
  budgetingMethod: Occurrences
  objectives: [{target: 0.99}]
  indicator:
    metadata: {name: probe}
    spec:
      ratioMetric:
        rawType: %s
        raw: {metricSource: {type: Prometheus, spec: {query: 'avg(avg_over_time(probe_success{job="edge"}[{{.window}}]))'}}}
"""


@pytest.mark.parametrize("raw_type,failing", [("success", "0x60"), ("failure", "1x60")])
def test_raw_ratio_of_successes_or_failures(
    promtool: str, tmp_path: Path, raw_type: str, failing: str
) -> None:
    rules = generate(tmp_path, RAW % raw_type)
    healthy = "1x60" if raw_type == "success" else "0x60"
    promtool_test(
        promtool,
        tmp_path,
        rules,
        [{"series": 'probe_success{job="edge"}', "values": failing}],
        [firing("EdgeProbeBudgetBurn", "30m", 1, sloth_severity="page")],
    )
    promtool_test(
        promtool,
        tmp_path,
        rules,
        [{"series": 'probe_success{job="edge"}', "values": healthy}],
        [firing("EdgeProbeBudgetBurn", "60m", 0)],
    )


def test_derived_periods_scale_like_the_built_in_catalog() -> None:
    for period in ("30d", "28d", "7d"):
        assert periods.derived(period) == windows.DEFAULT.require(period)
    # 90d: the Workbook's shares, three times 30d's factors.
    thirty, ninety = windows.DEFAULT.require("30d"), periods.derived("90d")
    assert ninety is not None
    assert [p.factor("90d") for p in ninety.pairs] == [3 * p.factor("30d") for p in thirty.pairs]
    # Between 7d and 28d each share lies between Sloth's 7d one and the Workbook's, and no pair
    # alerts below a burn rate of 1.
    for period in ("1w", "8d", "2w", "14d", "3w", "27d"):
        w = periods.derived(period)
        assert w is not None
        for pair, p7, p28 in zip(w.pairs, windows.DEFAULT.require("7d").pairs, thirty.pairs, strict=True):
            assert (
                min(p7.budget_share, p28.budget_share)
                <= pair.budget_share
                <= max(p7.budget_share, p28.budget_share)
            )
            assert pair.factor(period) >= Decimal("0.93")
            assert (
                pair.factor(period)
                == round(pair.budget_share * hours(period) / hours(pair.long), 10).normalize()
            )
    assert periods.derived("6d") is None and periods.derived("1h") is None


def test_any_rolling_window_gets_its_factors_in_the_rules(tmp_path: Path) -> None:
    for period in ("1w", "2w", "4w", "14d", "90d"):
        spec = _slices_spec("Occurrences", "").replace("4w", period).replace(", timeSliceWindow: 2m", "")
        rules = generate(tmp_path, spec)
        w = periods.derived(period)
        assert w is not None
        page = next(r for r in rules_of(rules) if r.get("alert") and r["labels"]["sloth_severity"] == "page")
        for pair in w.pairs[:2]:
            assert f"> {clean(pair.factor(period) * Decimal('0.01'))})" in page["expr"], (
                period,
                page["expr"],
            )
        assert any(r.get("record") == f"slo:sli_error:ratio_rate{w.period}" for r in rules_of(rules))


def _problems(tmp_path: Path, spec: str) -> str:
    err = refusal(tmp_path, spec)
    assert "unknown key" not in err, err
    return err


def test_calendar_windows_and_months_are_not_supported(tmp_path: Path) -> None:
    base = _slices_spec("Occurrences", "").replace(", timeSliceWindow: 2m", "")
    cal = base.replace(
        "[{duration: 4w, isRolling: true}]",
        "[{duration: 1M, isRolling: false, calendar: {startTime: '2022-01-01 12:00:00', timeZone: America/New_York}}]",
    )
    err = _problems(tmp_path, cal)
    assert "SLO slices: spec.timeWindow.0.calendar: not supported: a calendar-aligned time window" in err
    not_rolling = base.replace("isRolling: true", "isRolling: false")
    assert (
        "SLO slices: spec.timeWindow.0.isRolling: not supported: a calendar-aligned time window"
        in _problems(tmp_path, not_rolling)
    )
    months = base.replace("duration: 4w", "duration: 1Q")
    assert "spec.timeWindow.0.duration: not supported: '1Q'" in _problems(tmp_path, months)
    short = base.replace("duration: 4w", "duration: 1d")
    assert "SLO slices: period: got period '1d'; expected 7d or longer" in _problems(tmp_path, short)


def test_non_prometheus_sources_are_not_supported(tmp_path: Path) -> None:
    dd = _slices_spec("Occurrences", "").replace(
        "type: Prometheus, spec: {query: '" + Q_BAD + "'}",
        "type: Datadog, spec: {query: 'sum:errors{*}.as_count()'}",
    )
    err = _problems(tmp_path, dd)
    assert (
        "SLO slices: spec.indicator.spec.ratioMetric.bad.metricSource.type: not supported: metric source type 'Datadog'"
        in err
    )
    ref = AVAILABILITY.replace("type: Prometheus, connectionDetails", "type: CloudWatch, connectionDetails")
    err = _problems(tmp_path, ref)
    assert "spec.ratioMetric.bad.metricSource.metricSourceRef: not supported: DataSource prom" in err
    assert "of type 'CloudWatch'" in err


def test_missing_references_name_what_is_missing(tmp_path: Path) -> None:
    for old, new, said in (
        ("indicatorRef: shop-errors", "indicatorRef: nope", "spec.indicatorRef: no SLI named 'nope'"),
        (
            "alertPolicyRef: shop-paging",
            "alertPolicyRef: nope",
            "spec.alertPolicies.0.alertPolicyRef: no AlertPolicy named 'nope'",
        ),
        (
            "conditionRef: fast-burn",
            "conditionRef: nope",
            "spec.alertPolicies.0.conditions.0.conditionRef: no AlertCondition named 'nope'",
        ),
        (
            "targetRef: oncall",
            "targetRef: nope",
            "notificationTargets.0.targetRef: no AlertNotificationTarget named 'nope'",
        ),
        (
            "bad: {metricSource: {metricSourceRef: prom",
            "bad: {metricSource: {metricSourceRef: nope",
            "metricSourceRef: no DataSource named 'nope'",
        ),
    ):
        spec = AVAILABILITY.replace(old, new)
        assert spec != AVAILABILITY
        err = _problems(tmp_path, spec)
        assert said in err and "SLO availability" in err, err


def test_budgeting_fields_each_method_needs(tmp_path: Path) -> None:
    err = _problems(tmp_path, _slices_spec("Timeslices", ""))
    assert "spec.objectives.0.timeSliceTarget: missing" in err
    err = _problems(tmp_path, _slices_spec("Timeslices", ", timeSliceTarget: 1.2"))
    assert "spec.objectives.0.timeSliceTarget: got 1.2; expected a ratio greater than 0, at most 1" in err
    err = _problems(tmp_path, _slices_spec("RatioTimeslices", "").replace(", timeSliceWindow: 2m", ""))
    assert "spec.objectives.0.timeSliceWindow: missing" in err
    err = _problems(tmp_path, (THRESHOLD % ("Occurrences", "lt", "")).replace(", op: lt, value: 100", ""))
    assert "spec.objectives.0.op: missing; expected op (lt, lte, gt, gte) and value" in err


def test_schema_and_semantic_problems_are_reported_together(tmp_path: Path) -> None:
    spec = AVAILABILITY.replace(
        "- {displayName: loose, targetPercent: 99}", "- {displayName: loose, targetPercent: 99, colour: red}"
    ).replace("target: 0.999}", "target: 0.999}\n    - {targetPercent: -1}")
    err = refusal(tmp_path, spec)
    assert "spec.objectives.2.colour: unknown key" in err
    assert "SLO availability-1: objective: got -1; expected a percentage greater than 0" in err
    spec = AVAILABILITY.replace(
        "budgetingMethod: Occurrences", "budgetingMethod: Occurrences\n  colour: red"
    ).replace("indicatorRef: shop-errors", "indicatorRef: nope")
    err = refusal(tmp_path, spec)
    assert "spec.colour: unknown key" in err and "no SLI named 'nope'" in err


def test_a_broken_referenced_document_is_reported_once(tmp_path: Path) -> None:
    spec = AVAILABILITY.replace("severity: page\n", "severity: page\n  colour: red\n").replace(
        "condition: {kind: burnrate, threshold: 14.4", "condition: {kind: burnrate, threshold: -1"
    )
    err = refusal(tmp_path, spec)
    assert "AlertCondition fast-burn: spec.colour: unknown key" in err
    assert "AlertCondition fast-burn: spec.condition.threshold: got -1" in err
    assert "no AlertCondition named" not in err


def test_condition_durations_are_checked_where_they_are_written(tmp_path: Path) -> None:
    spec = AVAILABILITY.replace(
        "lookbackWindow: 1h, alertAfter: 2m", "lookbackWindow: an hour, alertAfter: soon"
    )
    err = refusal(tmp_path, spec)
    assert (
        "AlertCondition fast-burn: spec.condition.lookbackWindow: got 'an hour'; expected a Prometheus duration"
        in err
    )
    assert "AlertCondition fast-burn: spec.condition.alertAfter: got 'soon'" in err
    assert "no AlertCondition named" not in err


def test_inline_sli_kinds_bare_policy_names_and_duplicates(tmp_path: Path) -> None:
    spec = AVAILABILITY.replace(
        "alertPolicies: [{alertPolicyRef: shop-paging}]", "alertPolicies: [shop-paging]"
    )
    rules = generate(tmp_path, spec)
    assert any(r.get("alert") == "FastBurn" for r in rules_of(rules))
    inline = INLINE_POLICY.replace(
        "    metadata: {name: checkout-good}",
        "    apiVersion: openslo/v1\n    kind: SLI\n    metadata: {name: checkout-good}",
    )
    assert any(r.get("alert") == "SlowBurn" for r in rules_of(generate(tmp_path, inline)))
    twice = AVAILABILITY + "---\n" + SHARED.split("---\n")[1]
    err = refusal(tmp_path, twice)
    assert "Service shop: metadata.name: duplicate Service 'shop'" in err
    err = refusal(tmp_path, AVAILABILITY.replace("kind: Service\n", "kind: Team\n"))
    assert (
        "kind: got 'Team'; expected one of SLO, SLI, AlertPolicy, AlertCondition, AlertNotificationTarget, Service, DataSource (openslo/v1)"
        in err
    )


def test_composite_objectives_and_extra_source_fields_are_not_supported(tmp_path: Path) -> None:
    err = _problems(
        tmp_path,
        AVAILABILITY.replace(
            "- {displayName: strict, target: 0.999}",
            "- {displayName: strict, target: 0.999, compositeWeight: 2}",
        ),
    )
    assert "spec.objectives.0.compositeWeight: not supported: a composite SLO" in err
    err = _problems(
        tmp_path,
        INLINE_POLICY.replace("type: Prometheus, spec: {query:", "type: Prometheus, spec: {step: 60, query:"),
    )
    assert "metricSource.spec.step: not supported: Prometheus source fields step; expected only query" in err


def test_a_guarded_total_keeps_a_quiet_service_out_of_sli_absent(promtool: str, tmp_path: Path) -> None:
    guarded = AVAILABILITY.replace(f"query: '{Q_TOTAL}'", f"query: '{Q_TOTAL} > 0'")
    assert guarded != AVAILABILITY
    rules = generate(tmp_path, guarded)
    quiet = [{"series": 'http_requests_total{job="shop",code="200"}', "values": "5x60"}]
    sli = 'slo:sli_error:ratio_rate5m{sloth_id="shop-availability-0", sloth_service="shop", sloth_slo="availability-0", sloth_window="5m", team="shop,web"}'
    promtool_test(
        promtool,
        tmp_path,
        rules,
        quiet,
        [
            value('slo:sli_error:ratio_rate5m{sloth_slo="availability-0"}', "50m", 0, sli),
            firing("SLIAbsent", "60m", 0),
            firing("FastBurnNoData", "60m", 0),
        ],
    )


def test_generated_slo_tests_are_derived_only_for_occurrences_with_the_tiers(tmp_path: Path) -> None:
    from obsctl.generate.rules import slo_rules, slo_tests
    from obsctl.generate.slo import load

    for spec, derived in (
        (_slices_spec("Occurrences", "").replace(", timeSliceWindow: 2m", ""), True),
        (_slices_spec("Timeslices", ", timeSliceTarget: 0.9"), False),
        (AVAILABILITY, False),
    ):
        (tmp_path / "spec.yaml").write_text(spec)
        slo = load.load(tmp_path / "spec.yaml").slos[0]
        opts = slo_rules.Options()
        assert (slo_tests.tests_for(slo, opts) is not None) is derived
        assert (slo_tests.long_tests_for(slo, opts) is not None) is derived


def test_a_numeric_time_slice_window_is_minutes(tmp_path: Path) -> None:
    rules = generate(
        tmp_path, _slices_spec("RatioTimeslices", "").replace("timeSliceWindow: 2m", "timeSliceWindow: 3")
    )
    slice_rule = next(r for r in rules_of(rules) if r.get("record") == "slo:sli_error_timeslice:ratio")
    assert slice_rule["labels"]["sloth_window"] == "3m"
    assert "[3m]" in slice_rule["expr"]
