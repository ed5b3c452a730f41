"""Every dashboard target, with template variables substituted as Grafana does: what a live check
runs against a real Prometheus (every panel returns data) and what the static checks parse and
cross-reference.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from obsctl.generate.dashboards import render

Values = Mapping[str, str | Sequence[str]]

# Grafana's built-in interval variables, with the values a 15s scrape interval gives.
BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "6h",
    "__range_s": "21600",
    "__range_ms": "21600000",
}
# $name, ${name}, ${name:format} and [[name]]: the syntaxes Grafana interpolates.
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


def _regex_escape(value: str) -> str:
    # Grafana's Prometheus datasource escapes regex metacharacters with a doubled backslash, since
    # the value lands inside a PromQL string literal where one backslash would be an escape.
    return re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\\\1", value)


def substitute(expr: str, values: Values) -> str:
    """Replace template variables as Grafana would: one value verbatim, several as (a|b)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name in values:
            value = values[name]
            if isinstance(value, str):
                return value
            if len(value) == 1:
                return value[0]
            return "(" + "|".join(_regex_escape(v) for v in value) + ")"
        if name in BUILTINS:
            return BUILTINS[name]
        raise KeyError(f"no value for template variable ${name}")

    return _VARIABLE.sub(replace, expr)


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
                    expr=substitute(raw, merged),
                    instant=bool(target.get("instant")),
                )
            )
    return out


def all_targets(values: Values | None = None) -> list[Target]:
    """Every target of every generated dashboard. `values` overrides variables, for example
    {"job": "payment", "instance": ["localhost:8001", "localhost:8002"]}; unset variables take
    their "All" value and Grafana's built-ins ($__rate_interval...) the values in BUILTINS.
    """
    out = []
    for dashboard in render.dashboards().values():
        out.extend(dashboard_targets(dashboard, values))
    return out
