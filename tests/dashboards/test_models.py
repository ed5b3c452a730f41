"""Every dashboard loads into Grafana's own models (grafana-foundation-sdk) with nothing lost."""

from __future__ import annotations

import copy
import json
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

register_default_plugins()


def lost_fields(given: Any, loaded: Any, path: str = "") -> list[str]:
    """Fields of `given` missing or changed in `loaded` (the models may add defaults, never drop)."""
    if isinstance(given, dict):
        if not isinstance(loaded, dict):
            return [f"{path}: became {type(loaded).__name__}"]
        out = []
        for key, value in given.items():
            if key not in loaded:
                out.append(f"{path}.{key}: dropped")
            else:
                out.extend(lost_fields(value, loaded[key], f"{path}.{key}"))
        return out
    if isinstance(given, list):
        if not isinstance(loaded, list) or len(given) != len(loaded):
            return [f"{path}: list changed"]
        return [
            p
            for i, (a, b) in enumerate(zip(given, loaded, strict=True))
            for p in lost_fields(a, b, f"{path}[{i}]")
        ]
    return [] if given == loaded else [f"{path}: {given!r} became {loaded!r}"]


def round_trip(dashboard: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(json.dumps(Dashboard.from_json(dashboard), cls=JSONEncoder))
    return loaded


def test_dashboard_loads_into_grafana_models_unchanged(dashboards, dashboard_name):
    dashboard = dashboards[dashboard_name]
    assert lost_fields(dashboard, round_trip(dashboard)) == []


def test_misspelt_fields_are_caught(dashboards):
    broken = copy.deepcopy(dashboards["payments-overview.json"])
    panel = broken["panels"][1]
    panel["descripton"] = panel.pop("description")  # a typo at panel level
    panel["targets"][0]["legendFromat"] = "x"  # a typo inside a Prometheus query
    panel["options"]["colourMode"] = "value"  # a typo inside plugin options
    lost = lost_fields(broken, round_trip(broken))
    assert sorted(lost) == [
        ".panels[1].descripton: dropped",
        ".panels[1].options.colourMode: dropped",
        ".panels[1].targets[0].legendFromat: dropped",
    ]
