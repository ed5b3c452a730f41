"""Renders every example of the chart once per session with the real Helm library.

The chart reads the generated files the other areas committed (alerts/, dashboards/generated/,
collector/) through its symlinks, so these tests check the chart against the real artifacts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import catalog
from obsctl.generate.helm import chart

SERVICES = tuple(catalog.default().services)
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job")


@dataclass
class Rendered:
    name: str
    values: dict[str, Any]
    templates: dict[str, str]
    objects: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> dict[str, Any]:
        found = [o for o in self.of_kind(kind) if o["metadata"]["name"] == name]
        assert len(found) == 1, f"{self.name}: expected one {kind} {name}, found {len(found)}"
        return found[0]

    def workloads(self) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] in WORKLOAD_KINDS]


def render_example(name: str, chart_dir: Path | None = None) -> Rendered:
    return render_values(chart.example_values(name), name=name, chart_dir=chart_dir)


def render_values(values: dict[str, Any], *, name: str = "values", chart_dir: Path | None = None) -> Rendered:
    templates = chart.render(values, chart_dir=chart_dir)
    objects = [
        obj
        for path, text in templates.items()
        if not path.endswith("NOTES.txt")
        for obj in yaml.safe_load_all(text)
        if obj
    ]
    return Rendered(name=name, values=values, templates=templates, objects=objects)


@pytest.fixture(scope="session")
def examples() -> dict[str, Rendered]:
    names = chart.example_names()
    assert {"default", "byo-observability", "production"} <= set(names)
    return {name: render_example(name) for name in names}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}
