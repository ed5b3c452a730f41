"""Every panel target of every generated dashboard returns data from the running Prometheus, with
the dashboard's template variables set to real values found there.

Panels that legitimately show nothing on a healthy local stack are listed, each with its reason, in
empty_panels.yaml; those a fault can light up are proven here with that fault on.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from obsctl.generate.dashboards import queries, render
from obsctl.run import faults
from obsctl.run.prometheus_api import PrometheusAPI
from tests.live.helpers import Live

EMPTY_PANELS_FILE = Path(__file__).with_name("empty_panels.yaml")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<match>.+?)\s*,\s*)?(?P<label>\w+)\s*\)\s*$")


@functools.cache
def dashboards() -> dict[str, dict[str, Any]]:
    return {str(d["uid"]): d for d in render.dashboards().values()}


def empty_panels() -> dict[tuple[str, str], dict[str, Any]]:
    entries = yaml.safe_load(EMPTY_PANELS_FILE.read_text())["panels"]
    return {(e["dashboard"], e["panel"]): e for e in entries}


def real_values(prom: PrometheusAPI, dashboard: dict[str, Any]) -> dict[str, str]:
    """Each query variable set to a value its own label_values() query finds in Prometheus, in the
    order Grafana resolves them (a variable may use the ones before it). Of the values found, the
    one under which the most panels show data, as a person picking from the drop-down would."""
    values: dict[str, str] = {}
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var.get("query")
        text = query.get("query") if isinstance(query, dict) else query
        parsed = _LABEL_VALUES.match(str(text))
        assert parsed, f"{dashboard['uid']}: variable {var['name']} has an unsupported query {text!r}"
        match = parsed["match"]
        if match:
            match = queries.substitute(match, {**queries.default_values(dashboard), **values})
        found = sorted(prom.label_values(parsed["label"], match))
        if found:
            values[var["name"]] = max(
                found, key=lambda v: _panels_with_data(prom, dashboard, {**values, var["name"]: v})
            )
    return values


def _panels_with_data(prom: PrometheusAPI, dashboard: dict[str, Any], values: dict[str, str]) -> int:
    return sum(1 for t in queries.dashboard_targets(dashboard, values) if prom.query(t.expr))


def dark_panels(prom: PrometheusAPI, wanted: set[tuple[str, str]]) -> list[str]:
    """Of the (dashboard, panel) pairs wanted, those with a target that returns no data, variables
    resolved now (under a fault, the values that show it)."""
    dark = []
    for uid in sorted({d for d, _ in wanted}):
        dashboard = dashboards()[uid]
        found = [
            t
            for t in queries.dashboard_targets(dashboard, real_values(prom, dashboard))
            if (uid, t.panel) in wanted
        ]
        assert {t.panel for t in found} == {p for d, p in wanted if d == uid}, f"missing panels on {uid}"
        dark += sorted({f"{uid} / {t.panel}: {t.expr}" for t in found if not prom.query(t.expr)})
    return dark


def targets(prom: PrometheusAPI) -> list[queries.Target]:
    out = []
    for dashboard in dashboards().values():
        out.extend(queries.dashboard_targets(dashboard, real_values(prom, dashboard)))
    return out


def test_empty_panel_list_names_real_panels_with_reasons() -> None:
    real = {(t.dashboard, t.panel) for d in dashboards().values() for t in queries.dashboard_targets(d)}
    for key, entry in empty_panels().items():
        assert key in real, f"{EMPTY_PANELS_FILE.name}: no panel {key[1]!r} on dashboard {key[0]!r}"
        assert str(entry.get("reason", "")).strip(), f"{EMPTY_PANELS_FILE.name}: {key} needs a reason"
        fault = entry.get("fault")
        assert fault is None or fault in faults.FAULTS, f"{EMPTY_PANELS_FILE.name}: unknown fault {fault}"


@pytest.mark.slow
def test_every_panel_returns_data_on_the_healthy_stack(live: Live) -> None:
    exempt = empty_panels()
    empty = []
    for target in targets(live.prom):
        if (target.dashboard, target.panel) in exempt:
            continue
        if not live.prom.query(target.expr):
            empty.append(f"{target.dashboard} / {target.panel} [{target.ref_id}]: {target.expr}")
    assert not empty, "panels without data (fix them or list them in empty_panels.yaml):\n" + "\n".join(empty)
