"""Run checkov on the rendered chart and fail on any finding scripts/checkov-skips.yaml does not accept.

    .venv/bin/python scripts/checkov_gate.py [CHECKOV]     (make scan; CHECKOV defaults to the
                                                           tool venv scripts/setup.sh creates)

checkov lives in a venv of its own (its dependency pins conflict with the project's), in the tool
cache outside the checkout. An accepted finding names its reason in the skip list; an entry that
matches no finding any more is reported as stale and fails too.
"""

from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SKIPS = ROOT / "scripts" / "checkov-skips.yaml"
EXAMPLES = sorted((ROOT / "helm" / "examples").glob("*/rendered"))


def default_checkov() -> Path:
    cache = os.environ.get("OBSCTL_TOOLS_CACHE") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "payment-observability" / "tools"
    )
    return Path(cache) / "checkov-3" / "bin" / "checkov"


def scan(checkov: Path, directory: Path) -> list[dict[str, str]]:
    run = subprocess.run(
        [str(checkov), "-d", str(directory), "--framework", "kubernetes", "--quiet", "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode not in (0, 1):  # 1: some check failed
        raise SystemExit(f"checkov failed on {directory}:\n{run.stderr[-3000:]}")
    reports = json.loads(run.stdout)
    failed = []
    for report in reports if isinstance(reports, list) else [reports]:
        for f in report.get("results", {}).get("failed_checks", []):
            failed.append({"check": f["check_id"], "name": f["check_name"], "resource": f["resource"]})
    return failed


def main() -> int:
    checkov = Path(sys.argv[1]) if len(sys.argv) > 1 else default_checkov()
    if not checkov.exists():
        print(f"checkov not found at {checkov}: run `make setup`", file=sys.stderr)
        return 2
    skips = yaml.safe_load(SKIPS.read_text())
    global_checks: dict[str, str] = skips.get("checks") or {}
    entries = skips.get("resources") or []
    used = {id(e): False for e in entries}
    used_checks = dict.fromkeys(global_checks, False)
    refused = []
    total = 0
    for directory in EXAMPLES:
        for finding in scan(checkov, directory):
            total += 1
            if finding["check"] in global_checks:
                used_checks[finding["check"]] = True
                continue
            entry = next(
                (
                    e
                    for e in entries
                    if e["check"] == finding["check"]
                    and any(fnmatch.fnmatchcase(finding["resource"], p) for p in e["resources"])
                ),
                None,
            )
            if entry is None:
                refused.append(
                    f"{directory.parent.name}: {finding['check']} {finding['name']}: {finding['resource']}"
                )
            else:
                used[id(entry)] = True
    stale = [c for c, hit in used_checks.items() if not hit]
    stale += [f"{e['check']} {e['resources']}" for e in entries if not used[id(e)]]
    for line in refused:
        print(f"checkov: not accepted: {line}")
    for line in stale:
        print(f"checkov: stale skip (matches nothing): {line}")
    examples = ", ".join(d.parent.name for d in EXAMPLES)
    accepted = total - len(refused)
    print(f"checkov: {total} findings on {examples}, {accepted} accepted with a reason in {SKIPS.name}")
    return 1 if refused or stale else 0


if __name__ == "__main__":
    sys.exit(main())
