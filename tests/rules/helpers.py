"""Shared helpers of the rules tests: the generated rule files and the alerts in them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from obsctl import paths
from obsctl.generate.rules import layout

ALERTMANAGER = paths.REPO / layout.ALERTMANAGER


def groups() -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for f in layout.rule_files():
        for g in yaml.safe_load(f.read_text())["groups"]:
            out.append((f, g))
    return out


def rules() -> list[tuple[Path, str, dict[str, Any]]]:
    return [(f, g["name"], r) for f, g in groups() for r in g["rules"]]


def alert_rules() -> list[dict[str, Any]]:
    return [r for _, _, r in rules() if "alert" in r]


def run(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, cwd=cwd)
