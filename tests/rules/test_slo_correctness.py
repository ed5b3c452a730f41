"""Cases Sloth's formulas get wrong, proven in promtool on rules `obsctl slo generate` writes:

- a good/total SLI during a total outage of a service that never exported a good series (a
  crash-looping service answering only 503s) reads an error ratio of 1, and pages;
- a `> 0` guard on a total query (Sloth users' workaround for 0/0) does not make a quiet,
  healthy service's SLI vanish, so SLIAbsent stays quiet; it fires once the series are gone.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.rules import sloth_peer as peer
from tests.rules.helpers import run

# ruff: noqa: E501  (the specs' PromQL lines are long, as users write them)
OPENSLO_V1 = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
  labels: {team: [shop]}
spec:
  service: checkout
  budgetingMethod: Occurrences
  timeWindow: [{duration: 30d, isRolling: true}]
  objectives: [{target: 0.999}]
  indicator:
    metadata: {name: checkout-availability}
    spec:
      ratioMetric:
        good: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(http_requests_total{job="checkout",code=~"2.."}[{{.window}}]))'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(http_requests_total{job="checkout"}[{{.window}}]))'}}}
"""


GUARDED = """\
version: "prometheus/v1"
service: "quiet"
labels: {team: shop}
slos:
  - name: "availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="quiet",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="quiet"}[{{.window}}])) > 0
    alerting:
      name: QuietAvailability
"""


def _generate(tmp_path: Path, spec: str) -> Path:
    src = tmp_path / "spec.yaml"
    src.write_text(spec)
    code, out, err = peer.run_obsctl("generate", "-i", str(src))
    assert code == 0, err
    rules = tmp_path / "rules.yml"
    rules.write_text(out)
    return rules


def _promtool(promtool: str, tmp_path: Path, rules: Path, tests: list[dict]) -> None:
    f = tmp_path / "test.yml"
    f.write_text(
        yaml.safe_dump(
            {"rule_files": [str(rules)], "evaluation_interval": "1m", "tests": tests}, sort_keys=False
        )
    )
    result = run([promtool, "test", "rules", str(f)])
    assert result.returncode == 0, result.stdout + result.stderr


def _sli(slo_id: str, window: str = "5m") -> str:
    return f'slo:sli_error:ratio_rate{window}{{sloth_id="{slo_id}"}}'


def test_total_outage_without_any_good_series_reads_1_and_pages(promtool: str, tmp_path: Path) -> None:
    rules = _generate(tmp_path, OPENSLO_V1)
    labels = 'sloth_id="checkout-checkout-availability", sloth_service="checkout", sloth_slo="checkout-availability", team="shop"'
    _promtool(
        promtool,
        tmp_path,
        rules,
        [
            {
                "interval": "1m",
                # Only 503s, from the first request on: no good (2xx) series ever exists.
                "input_series": [
                    {"series": 'http_requests_total{job="checkout",code="503"}', "values": "0+100x60"}
                ],
                "promql_expr_test": [
                    {
                        "expr": _sli("checkout-checkout-availability"),
                        "eval_time": "10m",
                        "exp_samples": [
                            {
                                "labels": f'slo:sli_error:ratio_rate5m{{{labels}, sloth_window="5m"}}',
                                "value": 1,
                            }
                        ],
                    },
                    {
                        "expr": 'ALERTS{alertname="CheckoutAvailabilityBudgetBurn", alertstate="firing", sloth_severity="page"}',
                        "eval_time": "10m",
                        "exp_samples": [
                            {
                                "labels": 'ALERTS{alertname="CheckoutAvailabilityBudgetBurn", alertstate="firing", '
                                f'{labels}, severity="critical", sloth_severity="page"}}',
                                "value": 1,
                            }
                        ],
                    },
                ],
            }
        ],
    )


def test_openslo_v1alpha_good_total_reads_1_without_good_series(promtool: str, tmp_path: Path) -> None:
    rules = _generate(tmp_path, (peer.testdata() / "in-openslo.yaml").read_text())
    _promtool(
        promtool,
        tmp_path,
        rules,
        [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'http_request_duration_seconds_count{job="myservice",code="503"}',
                        "values": "0+100x30",
                    }
                ],
                "promql_expr_test": [
                    {
                        "expr": f"{_sli('svc01-slo1-0')} == 1",
                        "eval_time": "10m",
                        "exp_samples": [
                            {
                                "labels": 'slo:sli_error:ratio_rate5m{sloth_id="svc01-slo1-0", sloth_service="svc01", '
                                'sloth_slo="slo1-0", sloth_window="5m"}',
                                "value": 1,
                            }
                        ],
                    }
                ],
            }
        ],
    )


def test_a_guarded_total_keeps_a_quiet_service_out_of_sli_absent(promtool: str, tmp_path: Path) -> None:
    rules = _generate(tmp_path, GUARDED)
    labels = 'sloth_id="quiet-availability", sloth_service="quiet", sloth_slo="availability", team="shop"'
    _promtool(
        promtool,
        tmp_path,
        rules,
        [
            {
                "interval": "1m",
                # A healthy service: 10 requests, then nobody calls it for 2 hours (flat counter),
                # then it is no longer scraped.
                "input_series": [
                    {
                        "series": 'http_requests_total{job="quiet",code="200"}',
                        "values": "0+1x10 10+0x110 _x60",
                    }
                ],
                "promql_expr_test": [
                    {
                        "expr": _sli("quiet-availability"),
                        "eval_time": "90m",
                        "exp_samples": [
                            {
                                "labels": f'slo:sli_error:ratio_rate5m{{{labels}, sloth_window="5m"}}',
                                "value": 0,
                            }
                        ],
                    },
                    {"expr": 'ALERTS{alertname="SLIAbsent"}', "eval_time": "120m", "exp_samples": []},
                ],
                "alert_rule_test": [
                    {"eval_time": "120m", "alertname": "SLIAbsent", "exp_alerts": []},
                    {
                        "eval_time": "150m",
                        "alertname": "SLIAbsent",
                        "exp_alerts": [
                            {
                                "exp_labels": {
                                    "severity": "warning",
                                    "sloth_id": "quiet-availability",
                                    "sloth_service": "quiet",
                                    "sloth_slo": "availability",
                                    "team": "shop",
                                },
                                "exp_annotations": {
                                    "summary": "An SLO has no SLI data: its error ratio cannot be computed.",
                                    "description": "SLO quiet-availability (team shop) has had no 5m SLI series for 10m: "
                                    "its total-events query returns nothing. Burn-rate alerts for it cannot fire.",
                                },
                            }
                        ],
                    },
                ],
            }
        ],
    )


def test_sli_absent_watches_events_slis_only(promtool: str, tmp_path: Path) -> None:
    """A raw error ratio reads nothing under zero traffic as when its series are gone: SLIAbsent
    leaves it out instead of paging a quiet service (Sloth's in-base.yaml: slo1 events, slo02 raw)."""
    rules = _generate(tmp_path, (peer.testdata() / "in-base.yaml").read_text())
    flat = "1000+0x120"
    _promtool(
        promtool,
        tmp_path,
        rules,
        [
            {
                "interval": "1m",
                "input_series": [
                    {
                        "series": 'http_request_duration_seconds_count{job="myservice",code="200"}',
                        "values": flat,
                    },
                    {
                        "series": 'http_request_duration_seconds_count{job="myservice",code="500"}',
                        "values": flat,
                    },
                ],
                "promql_expr_test": [
                    {"expr": _sli("svc01-slo02"), "eval_time": "60m", "exp_samples": []},
                    {"expr": 'ALERTS{alertname="SLIAbsent"}', "eval_time": "120m", "exp_samples": []},
                ],
            }
        ],
    )
