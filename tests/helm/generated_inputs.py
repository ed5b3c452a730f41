"""The generated files the chart must carry, read straight from where their areas write them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from obsctl import paths
from obsctl.generate.rules import layout


def rule_files() -> dict[str, str]:
    """The generated rule files by file name, as the chart carries them."""
    out = {path.name: path.read_text(encoding="utf-8") for path in layout.rule_files()}
    assert out, f"no generated rule files under {layout.RULES_DIR}/ (run `make rules`)"
    return out


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for text in rule_files().values():
        groups.extend(yaml.safe_load(text)["groups"])
    return groups


def dashboards() -> dict[str, str]:
    found = {
        p.name: p.read_text(encoding="utf-8") for p in sorted((paths.DASHBOARDS / "generated").glob("*.json"))
    }
    assert found, "no generated dashboards under dashboards/generated/ (run `make dashboards`)"
    return found


def collector_config() -> str:
    path: Path = paths.COLLECTOR / "kubernetes.yaml"
    return path.read_text(encoding="utf-8")


def alertmanager_config() -> str:
    return (paths.REPO / layout.ALERTMANAGER).read_text(encoding="utf-8")
