"""The generated files the chart must carry, read straight from where their areas write them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from obsctl import paths


def rule_files() -> dict[str, str]:
    """YAML files under alerts/ holding rule groups (alertmanager.yml and promtool tests hold none)."""
    out = {}
    for path in sorted([*paths.ALERTS.rglob("*.yml"), *paths.ALERTS.rglob("*.yaml")]):
        text = path.read_text(encoding="utf-8")
        loaded: Any = yaml.safe_load(text)
        if isinstance(loaded, dict) and "groups" in loaded:
            out[path.name] = text
    assert out, "no generated rule files under alerts/ (run `make rules`)"
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
    return (paths.ALERTS / "alertmanager.yml").read_text(encoding="utf-8")
