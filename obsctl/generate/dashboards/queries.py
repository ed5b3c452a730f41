"""Every dashboard target, with template variables substituted: what a live check runs against a real
Prometheus (every panel returns data) and what the static checks parse and cross-reference.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from obsctl.generate.dashboards import promql, render

Values = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True)
class Target:
    dashboard: str  # uid
    panel: str  # title
    ref_id: str
    raw: str  # the expression as written in the dashboard
    expr: str  # with template variables substituted
    instant: bool


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that is not a row, including panels nested in collapsed rows."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def default_values(dashboard: Mapping[str, Any]) -> dict[str, str]:
    """What Grafana substitutes when a variable is left at "All": its allValue (a regex)."""
    out = {}
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("includeAll") and var.get("allValue"):
            out[var["name"]] = var["allValue"]
    return out


def dashboard_targets(dashboard: Mapping[str, Any], values: Values | None = None) -> list[Target]:
    merged: dict[str, str | Sequence[str]] = {**default_values(dashboard), **(values or {})}
    out = []
    for panel in panels(dashboard):
        for target in panel.get("targets", []):
            raw = target.get("expr", "")
            out.append(
                Target(
                    dashboard=str(dashboard.get("uid")),
                    panel=str(panel.get("title")),
                    ref_id=str(target.get("refId")),
                    raw=raw,
                    expr=promql.substitute(raw, merged),
                    instant=bool(target.get("instant")),
                )
            )
    return out


def all_targets(values: Values | None = None) -> list[Target]:
    """Every target of every generated dashboard. `values` overrides variables, for example
    {"job": "payment", "instance": ["localhost:8001", "localhost:8002"]}; unset variables take
    their "All" value and Grafana's built-ins ($__rate_interval...) the values in promql.BUILTINS.
    """
    out = []
    for dashboard in render.dashboards().values():
        out.extend(dashboard_targets(dashboard, values))
    return out
