"""The period window counts errors over requests, not an average of 5m ratios (Sloth's way).

Uneven traffic: a busy hour at 10% errors, then five quiet hours without errors. The true error
ratio is 6,000 / 63,000 = 0.0952; an average of 5m ratios would say about 0.02.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from obsctl import paths
from obsctl.generate.rules import layout
from tests.rules.helpers import run

# Sloth's recording and label names are written out here, not taken from obsctl.generate.conventions:
# the expectations are the contract with Sloth.

SLO = "gateway-payment-availability"
BASE = (
    'http_server_request_duration_seconds_count{job="gateway",'
    'http_route="/api/v1/payments",http_request_method="POST"'
)
LABELS = f'sloth_id="{SLO}", sloth_service="gateway", sloth_slo="payment-availability", team="edge", tier="1"'


def test_period_window_is_errors_over_requests(tmp_path: Path, promtool: str) -> None:
    test = {
        "rule_files": [str(paths.REPO / layout.RULES_DIR / f"slo-{SLO}.yml")],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    # busy hour: 900 good + 100 errors a minute; then 10 good a minute for 5 hours
                    {"series": BASE + ',http_response_status_code="201"}', "values": "0+900x60 54010+10x299"},
                    {"series": BASE + ',http_response_status_code="500"}', "values": "0+100x60 6000+0x299"},
                ],
                "promql_expr_test": [
                    {
                        "expr": f'round(slo:sli_error:ratio_rate30d{{sloth_id="{SLO}"}}, 0.0001)',
                        "eval_time": "360m",
                        "exp_samples": [
                            {
                                "labels": f'{{{LABELS}, sloth_window="30d"}}',
                                "value": 0.0952,
                            }
                        ],
                    },
                    {
                        # For contrast, Sloth's formula over the same data under-counts by 5x. To
                        # the nearest 0.01: the average is 0.0178 on Prometheus 2 and 0.0175 on 3,
                        # whose left-open 5m window (5 samples, not 6) leaves the busy hour a
                        # minute earlier, so one 5m ratio fewer carries its errors.
                        "expr": (
                            f'round(avg_over_time(slo:sli_error:ratio_rate5m{{sloth_id="{SLO}"}}[30d]), 0.01)'
                        ),
                        "eval_time": "360m",
                        "exp_samples": [
                            {
                                "labels": f'{{{LABELS}, sloth_window="5m"}}',
                                "value": 0.02,
                            }
                        ],
                    },
                ],
            }
        ],
    }
    path = tmp_path / "period.yml"
    path.write_text(yaml.safe_dump(test))
    result = run([promtool, "test", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
