"""A latency SLI on Prometheus native histograms (`histogram_fraction`): Pyrra's latencyNative
indicator, and the same SLI written as a Sloth spec's events. Proven with promtool's native
histogram series notation (`{{schema:0 count:.. sum:.. offset:.. buckets:[..]}}`), which only
Prometheus 3's promtool reads: Debian's promtool 2.42 refuses the notation (tested below, so the
day it reads it this file says so), while it accepts the rules themselves (`check rules`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from obsctl.generate.rules import checks
from tests.rules.helpers import run
from tests.rules.slo_specs import firing, generate, promtool_test, rules_of, value

# ruff: noqa: E501
PYRRA = """\
apiVersion: pyrra.dev/v1alpha1
kind: ServiceLevelObjective
metadata: {name: api-latency, namespace: shop}
spec:
  target: "99"
  window: 4w
  alerting: {name: ApiLatencyBudgetBurn}
  indicator:
    latencyNative:
      total: {metric: 'http_request_duration_seconds{job="api"}'}
      latency: 200ms
      grouping: [handler]
"""

SLOTH = """\
version: prometheus/v1
service: shop
slos:
  - name: api-latency
    objective: 99
    sli:
      events:
        error_query: histogram_count(sum(rate(http_request_duration_seconds{job="api"}[{{.window}}]))) * (1 - histogram_fraction(0, 0.2, sum(rate(http_request_duration_seconds{job="api"}[{{.window}}]))))
        total_query: histogram_count(sum(rate(http_request_duration_seconds{job="api"}[{{.window}}])))
    alerting:
      name: ApiLatencyBudgetBurn
      page_alert: {labels: {severity: critical}}
      ticket_alert: {labels: {severity: warning}}
"""

# Schema 0 with offset -3: bucket 0 holds (0.0625, 0.125] s, bucket 3 holds (0.5, 1] s.
FAST = "{{schema:0 count:0 sum:0 offset:-3 buckets:[0 0 0 0]}}+{{schema:0 count:60 sum:6 offset:-3 buckets:[60 0 0 0]}}x90"
SLOW_AFTER_30M = (
    "{{schema:0 count:0 sum:0 offset:-3 buckets:[0 0 0 0]}}+{{schema:0 count:60 sum:6 offset:-3 buckets:[60 0 0 0]}}x30 "
    "{{schema:0 count:1860 sum:66 offset:-3 buckets:[1800 0 0 60]}}+{{schema:0 count:60 sum:60 offset:-3 buckets:[0 0 0 60]}}x60"
)


@pytest.fixture
def promtool3() -> str:
    tool = checks.table_tool("promtool")
    try:
        return tool.binary()
    except checks.MissingTool as exc:
        pytest.fail(str(exc))


@pytest.mark.parametrize(
    "spec,labels", [(PYRRA, 'handler="/pay"'), (SLOTH, "")], ids=["pyrra-latencyNative", "sloth-events"]
)
def test_slow_native_histogram_pages_fast_one_stays_quiet(
    promtool3: str, tmp_path: Path, spec: str, labels: str
) -> None:
    rules = generate(tmp_path, spec)
    assert any("histogram_fraction(0, 0.2, " in r["expr"] for r in rules_of(rules))
    series = f'http_request_duration_seconds{{job="api"{", " + labels if labels else ""}}}'
    promtool_test(
        promtool3,
        tmp_path,
        rules,
        [{"series": series, "values": SLOW_AFTER_30M}],
        [
            firing("ApiLatencyBudgetBurn", "29m", 0),
            # every request slower than 200 ms after 30m: the 5m SLI reads 1
            value(
                "round(slo:sli_error:ratio_rate5m)",
                "40m",
                1,
                "{"
                + ", ".join(
                    x
                    for x in [
                        labels,
                        'sloth_id="shop-api-latency", sloth_service="shop", sloth_slo="api-latency", sloth_window="5m"',
                    ]
                    if x
                )
                + "}",
            ),
            firing("ApiLatencyBudgetBurn", "45m", 1, sloth_severity="page"),
        ],
    )
    promtool_test(
        promtool3,
        tmp_path,
        rules,
        [{"series": series, "values": FAST}],
        [
            firing("ApiLatencyBudgetBurn", "90m", 0),
            firing("SLIAbsent", "90m", 0),
            value(
                "slo:sli_error:ratio_rate5m",
                "60m",
                0,
                "slo:sli_error:ratio_rate5m{"
                + ", ".join(
                    x
                    for x in [
                        labels,
                        'sloth_id="shop-api-latency", sloth_service="shop", sloth_slo="api-latency", sloth_window="5m"',
                    ]
                    if x
                )
                + "}",
            ),
        ],
    )


def test_zero_traffic_on_a_native_histogram_reads_0_not_nan(promtool3: str, tmp_path: Path) -> None:
    rules = generate(tmp_path, PYRRA)
    idle = "{{schema:0 count:5 sum:0.5 offset:-3 buckets:[5]}}x60"
    promtool_test(
        promtool3,
        tmp_path,
        rules,
        [{"series": 'http_request_duration_seconds{job="api", handler="/pay"}', "values": idle}],
        [
            value(
                "slo:sli_error:ratio_rate5m",
                "30m",
                0,
                'slo:sli_error:ratio_rate5m{handler="/pay", sloth_id="shop-api-latency", sloth_service="shop", sloth_slo="api-latency", sloth_window="5m"}',
            ),
            firing("ApiLatencyBudgetBurn", "60m", 0),
            firing("SLIAbsent", "60m", 0),
        ],
    )


def test_both_promtools_accept_the_rules(promtool: str, tmp_path: Path) -> None:
    for spec in (PYRRA, SLOTH):
        rules = generate(tmp_path, spec)
        result = run([promtool, "check", "rules", "--lint-fatal", str(rules)])
        assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_2_42_cannot_read_the_native_histogram_notation(tmp_path: Path) -> None:
    tool = checks.promtools()[0]
    assert tool.version.startswith("2.42"), tool
    f = tmp_path / "t.yml"
    f.write_text(
        f"rule_files: []\ntests:\n- interval: 1m\n  input_series:\n  - series: h\n    values: '{FAST}'\n"
    )
    result = run([tool.binary(), "test", "rules", str(f)])
    assert (
        result.returncode != 0
        and "unexpected character in series sequence: '{'" in result.stdout + result.stderr
    )
