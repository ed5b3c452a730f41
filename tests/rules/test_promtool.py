"""The generated rules pass promtool's checks, and every promtool test passes, on each promtool
(Debian's 2.42 and Prometheus 3's: the `promtool` fixture, tests/rules/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from obsctl import paths
from obsctl.generate.rules import layout
from tests.rules.helpers import run


def test_promtool_check_rules_is_clean_with_lint(promtool: str) -> None:
    files = layout.rule_files()
    assert len(files) >= 3
    result = run([promtool, "check", "rules", "--lint=all", "--lint-fatal", *map(str, files)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_hand_written_promtool_tests_pass(promtool: str) -> None:
    files = layout.promtool_test_files()
    assert files
    result = run([promtool, "test", "rules", *map(str, files)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", layout.slo_test_files(), ids=lambda p: p.name)
def test_generated_slo_tests_pass(test_file: Path, promtool: str) -> None:
    result = run([promtool, "test", "rules", str(test_file)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_test_fails_when_an_alert_is_broken(tmp_path: Path, promtool: str) -> None:
    """The service-alert tests can fail: with a threshold raised tenfold, they do."""
    original = (paths.REPO / layout.SERVICE_ALERTS_FILE).read_text()
    broken = original.replace("> 0.05\n", "> 0.5\n")
    assert broken != original
    # The same layout as the repository's, so the test's relative rule_files path finds the copy.
    (tmp_path / layout.SERVICE_ALERTS_FILE).parent.mkdir(parents=True)
    (tmp_path / layout.SERVICE_ALERTS_FILE).write_text(broken)
    test = paths.REPO / layout.PROMTOOL_TESTS_DIR / "dependency-error-rate-high.yml"
    copy = tmp_path / layout.PROMTOOL_TESTS_DIR / test.name
    copy.parent.mkdir(parents=True)
    copy.write_text(test.read_text())
    result = run([promtool, "test", "rules", str(copy)])
    assert result.returncode != 0
    assert "DependencyErrorRateHigh" in result.stdout + result.stderr


def test_reset_guard_is_what_resolves_the_page_within_15_minutes(tmp_path: Path, promtool: str) -> None:
    """Without the reset guard (Sloth's rules) the page outlives a long outage by about 30 minutes,
    so the generated 15-minute reset expectation fails against them: the guard is load-bearing."""
    from obsctl.generate.rules import slo_rules
    from obsctl.generate.rules.generate import options
    from obsctl.generate.rules.yamlout import dump
    from obsctl.generate.slo import load

    slo = next(s for s in load.read(paths.SLOS) if s.id == "gateway-payment-availability")
    guarded = options()
    assert guarded.page.reset_window == "5m"
    sloth_like = options(page=guarded.page.model_copy(update={"reset_window": None}))
    (tmp_path / "rules").mkdir()
    rules_file = tmp_path / "rules" / f"slo-{slo.id}.yml"
    rules_file.write_text(dump({"groups": slo_rules.groups([slo], sloth_like, include_absent=False)}))
    (tmp_path / "rules" / "slo-sli-absent.yml").write_text((paths.REPO / layout.ABSENT_FILE).read_text())
    (tmp_path / "tests").mkdir()
    test = tmp_path / "tests" / f"{slo.id}.yml"
    test.write_text((paths.REPO / layout.SLO_TESTS_DIR / f"{slo.id}.yml").read_text())
    result = run([promtool, "test", "rules", str(test)])
    assert result.returncode != 0, "the page resolved within 15 minutes even without the guard"
    assert "PaymentAvailabilityBudgetBurn" in result.stdout + result.stderr
