"""Helpers of the SLO format tests (OpenSLO v1, Pyrra, native histograms): generate rules from a
spec written in the test with `obsctl slo generate`, and run promtool tests against them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.rules import sloth_peer as peer
from tests.rules.helpers import run


def generate(tmp_path: Path, spec: str, *args: str) -> Path:
    src = tmp_path / "spec.yaml"
    src.write_text(spec)
    out = tmp_path / "rules.yml"
    code, _, err = peer.run_obsctl("generate", "-i", str(src), "-o", str(out), *args)
    assert code == 0, err
    return out


def refusal(tmp_path: Path, spec: str) -> str:
    """The problems `obsctl slo validate` reports for `spec` (it must refuse it)."""
    src = tmp_path / "spec.yaml"
    src.write_text(spec)
    code, out, err = peer.run_obsctl("validate", "-i", str(src))
    assert code != 0, out
    return err


def rules_of(path: Path) -> list[dict[str, Any]]:
    return [r for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"]]


def firing(alert: str, eval_time: str, count: int, **labels: str) -> dict[str, Any]:
    """A promql_expr_test: `count` firing alerts named `alert` (with `labels`) at `eval_time`."""
    sel = ", ".join(
        [f'alertname="{alert}"', 'alertstate="firing"', *(f'{k}="{v}"' for k, v in labels.items())]
    )
    return {
        "expr": f"count(ALERTS{{{sel}}}) or vector(0)",
        "eval_time": eval_time,
        "exp_samples": [{"labels": "{}", "value": count}],
    }


def value(expr: str, eval_time: str, expected: float, labels: str = "{}") -> dict[str, Any]:
    return {"expr": expr, "eval_time": eval_time, "exp_samples": [{"labels": labels, "value": expected}]}


def promtool_test(
    promtool: str, tmp_path: Path, rules: Path, series: list[dict[str, str]], tests: list[dict[str, Any]]
) -> None:
    f = tmp_path / "test.yml"
    f.write_text(
        yaml.safe_dump(
            {
                "rule_files": [str(rules)],
                "evaluation_interval": "1m",
                "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": tests}],
            },
            sort_keys=False,
        )
    )
    result = run([promtool, "test", "rules", str(f)])
    assert result.returncode == 0, result.stdout + result.stderr
