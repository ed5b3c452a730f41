"""promtool and amtool checks of the generated files (part of `obsctl check` / `make check`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import catalog as catalog_mod
from obsctl import paths
from obsctl.generate.rules import layout
from obsctl.generate.rules.alertmanager import TIERS, receiver_name

PROMTOOL = "promtool"
AMTOOL = "amtool"
# A representative label set per receiver tier, for `amtool config routes test`.
SEVERITY_OF_TIER = {"page": "critical", "ticket": "warning"}


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False)


def test_files(root: Path | None = None) -> list[Path]:
    return layout.slo_test_files(root) + layout.promtool_test_files(root)


def check_rules(root: Path | None = None) -> list[str]:
    files = layout.rule_files(root)
    if not files:
        return [f"no rule files under {layout.RULES_DIR}"]
    r = _run([PROMTOOL, "check", "rules", "--lint=all", "--lint-fatal", *map(str, files)])
    return [] if r.returncode == 0 else [f"promtool check rules: {r.stdout}{r.stderr}".strip()]


def test_rules(files: list[Path] | None = None) -> list[str]:
    files = files if files is not None else test_files()
    if not files:
        return ["no promtool test files"]
    r = _run([PROMTOOL, "test", "rules", *map(str, files)])
    return [] if r.returncode == 0 else [f"promtool test rules: {r.stdout}{r.stderr}".strip()]


def check_alertmanager(path: Path | None = None) -> list[str]:
    path = path or paths.REPO / layout.ALERTMANAGER
    problems = []
    r = _run([AMTOOL, "check-config", str(path)])
    if r.returncode != 0:
        problems.append(f"amtool check-config: {r.stdout}{r.stderr}".strip())
        return problems
    for team in sorted(catalog_mod.default().teams):
        for tier, _ in TIERS:
            expected = receiver_name(team, tier)
            labels = [f"team={team}", f"severity={SEVERITY_OF_TIER[tier]}", "alertname=Probe"]
            r = _run(
                [
                    AMTOOL,
                    "config",
                    "routes",
                    "test",
                    f"--config.file={path}",
                    f"--verify.receivers={expected}",
                    *labels,
                ]
            )
            if r.returncode != 0:
                problems.append(
                    f"amtool routes test {' '.join(labels)}: expected {expected}: {r.stdout.strip()}"
                )
    return problems


def check_all() -> list[str]:
    # The generated per-SLO tests replay days of series (about a minute for all SLOs): they run in
    # `make test` (tests/rules), not in the fast `make check`.
    return check_rules() + check_alertmanager() + test_rules(layout.promtool_test_files())
