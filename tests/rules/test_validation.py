"""Invalid SLO specs: a clear message naming file, SLO, field and expectation; nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from obsctl import paths

# ruff: noqa: E501  (the spec's PromQL lines are long, as users write them)
GOOD = """\
version: "prometheus/v1"
service: "shop"
labels:
  team: edge
slos:
  - name: "requests-availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_server_request_duration_seconds_count{job="shop",http_response_status_code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_server_request_duration_seconds_count{job="shop"}[{{.window}}]))
    alerting:
      name: ShopAvailabilityBudgetBurn
"""


def obsctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from obsctl.cli import main; main()", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=paths.REPO,
    )


def _expect_error(tmp_path: Path, spec: str, *needles: str) -> str:
    src = tmp_path / "spec.yaml"
    src.write_text(spec)
    out = tmp_path / "out.yml"
    result = obsctl("slo", "generate", "-i", str(src), "-o", str(out))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists(), "partial output written"
    for needle in (str(src), *needles):
        assert needle in result.stderr, f"{needle!r} not in {result.stderr!r}"
    # validate reports the same problems
    v = obsctl("slo", "validate", "-i", str(src))
    assert v.returncode == 2 and needles[0] in v.stderr
    return result.stderr


def test_good_spec_generates(tmp_path: Path) -> None:
    # Sloth's name of the period's SLI recording, written out: the contract with Sloth.
    src = tmp_path / "spec.yaml"
    src.write_text(GOOD)
    out = tmp_path / "out.yml"
    result = obsctl("slo", "generate", "-i", str(src), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "slo:sli_error:ratio_rate30d" in out.read_text()


@pytest.mark.parametrize("objective", ["100", "0", "-5", "120"])
def test_bad_objective(tmp_path: Path, objective: str) -> None:
    _expect_error(
        tmp_path,
        GOOD.replace("objective: 99.9", f"objective: {objective}"),
        "SLO requests-availability",
        "objective",
        "greater than 0 and less than 100",
    )


def test_missing_window_placeholder(tmp_path: Path) -> None:
    spec = GOOD.replace('{job="shop"}[{{.window}}]', '{job="shop"}[5m]')
    _expect_error(
        tmp_path, spec, "SLO requests-availability", "sli.events.total_query", "missing {{.window}}"
    )


def test_invalid_promql(tmp_path: Path) -> None:
    spec = GOOD.replace("total_query: sum(rate(", "total_query: sum(rate((")
    _expect_error(tmp_path, spec, "SLO requests-availability", "sli.events.total_query", "not valid PromQL")


def test_duplicate_slo_names(tmp_path: Path) -> None:
    body = GOOD.split("slos:\n", 1)[1]
    spec = GOOD + body.replace("ShopAvailabilityBudgetBurn", "ShopOtherBudgetBurn")
    _expect_error(
        tmp_path, spec, "SLO requests-availability", "name", "duplicate SLO 'shop-requests-availability'"
    )


def test_unknown_field(tmp_path: Path) -> None:
    spec = GOOD.replace("    objective: 99.9", "    objective: 99.9\n    objetive: 99.9")
    _expect_error(
        tmp_path, spec, "SLO requests-availability", "slos.0.objetive", "unknown key; got 'objetive'"
    )


def test_a_union_field_is_one_problem_naming_every_accepted_type(tmp_path: Path) -> None:
    spec = (paths.SLOS / "notification.yaml").read_text().replace("team: [messaging]", "team: 3")
    err = _expect_error(
        tmp_path,
        spec,
        "SLO notification-delivery",
        "metadata.labels.team: got 3; expected a valid string or a valid list",
    )
    assert "labels.team.str" not in err


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    spec = GOOD.replace("objective: 99.9", "objective: 100").replace(
        '{job="shop"}[{{.window}}]', '{job="shop"}[5m]'
    )
    err = _expect_error(tmp_path, spec, "objective")
    assert "missing {{.window}}" in err


def test_openslo_missing_window_and_bad_target(tmp_path: Path) -> None:
    spec = (paths.SLOS / "notification.yaml").read_text()
    spec = spec.replace("target: 0.995", "target: 1.5").replace('le="30.0"}[{{.window}}]', 'le="30.0"}[5m]')
    err = _expect_error(tmp_path, spec, "SLO notification-delivery", "good.metricSource.spec.query")
    assert "objective: got 150" in err


def test_obsctl_generate_writes_nothing_when_an_slo_is_invalid(tmp_path: Path) -> None:
    from obsctl.errors import ObsctlError
    from obsctl.generate.rules.generate import generate

    (tmp_path / "bad.yaml").write_text(GOOD.replace("objective: 99.9", "objective: 100"))
    with pytest.raises(ObsctlError) as exc:
        generate(tmp_path)
    assert "objective" in str(exc.value)


def test_help_on_every_command() -> None:
    for args in (
        ["slo", "--help"],
        ["slo", "validate", "--help"],
        ["slo", "generate", "--help"],
        ["bench", "--help"],
    ):
        result = obsctl(*args)
        assert result.returncode == 0 and "Usage:" in result.stdout, args


def test_an_unknown_key_does_not_hide_a_bad_value_next_to_it(tmp_path: Path) -> None:
    spec = GOOD.replace("    objective: 99.9", "    objective: 101\n    objetive: 99.9")
    err = _expect_error(tmp_path, spec, "slos.0.objetive", "unknown key; got 'objetive'")
    assert "objective: got 101; expected a percentage greater than 0 and less than 100" in err


def test_an_unknown_key_and_a_bad_value_in_a_kubernetes_spec(tmp_path: Path) -> None:
    spec = """\
apiVersion: sloth.slok.dev/v1
kind: PrometheusServiceLevel
metadata: {name: shop, namespace: shop}
spec:
  service: shop
  slos:
    - name: availability
      objective: 101
      colour: blue
      sli:
        events:
          errorQuery: sum(rate(x_total{code="500"}[{{.window}}]))
          totalQuery: sum(rate(x_total[{{.window}}]))
      alerting: {name: ShopAvailability}
"""
    err = _expect_error(tmp_path, spec, "spec.slos.0.colour", "unknown key; got 'colour'")
    assert "SLO availability: objective: got 101" in err
