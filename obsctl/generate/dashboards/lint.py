"""The grafana/dashboard-linter rule set, reimplemented on the generated JSON.

Each rule returns findings; `findings()` drops those listed, with a reason, in
dashboards/lint-exceptions.yaml (the only place exceptions may live).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import yaml

from obsctl import paths
from obsctl.generate import promql
from obsctl.generate.dashboards import crossref, queries

EXCEPTIONS = paths.DASHBOARDS / "lint-exceptions.yaml"
RATE_FUNCTIONS = {"rate", "irate", "increase"}
# $__rate_interval is replaced by this unusual window before parsing, so a range that is still
# this value after parsing came from the variable and not from a literal like [5m].
_RATE_INTERVAL_SENTINEL = "4242s"
DATASOURCE_UID = "${datasource}"

Dashboard = Mapping[str, Any]


@dataclass(frozen=True)
class Finding:
    rule: str
    dashboard: str
    panel: str | None
    message: str

    def __str__(self) -> str:
        where = self.dashboard + (f" / {self.panel!r}" if self.panel else "")
        return f"{where}: {self.rule}: {self.message}"


def _panel_finding(rule: str, dash: Dashboard, panel: Mapping[str, Any], message: str) -> Finding:
    return Finding(rule, str(dash.get("uid")), str(panel.get("title")), message)


def dashboard_uid_title(dash: Dashboard) -> Iterator[Finding]:
    for key in ("uid", "title", "description"):
        if not dash.get(key):
            yield Finding("dashboard-uid-title", str(dash.get("uid")), None, f"no {key}")


def template_datasource(dash: Dashboard) -> Iterator[Finding]:
    variables = dash.get("templating", {}).get("list", [])
    if not any(v.get("type") == "datasource" and v.get("name") == "datasource" for v in variables):
        yield Finding("template-datasource", str(dash.get("uid")), None, "no `datasource` template variable")
    for panel in queries.panels(dash):
        refs = [panel.get("datasource") or {}] + [t.get("datasource") or {} for t in panel.get("targets", [])]
        for ref in refs:
            if ref.get("uid") != DATASOURCE_UID:
                yield _panel_finding(
                    "panel-datasource", dash, panel, f"datasource {ref!r} is not {{uid: {DATASOURCE_UID!r}}}"
                )


def panel_title_description(dash: Dashboard) -> Iterator[Finding]:
    for panel in queries.panels(dash):
        for key in ("title", "description"):
            if not str(panel.get(key) or "").strip():
                yield _panel_finding("panel-title-description", dash, panel, f"no {key}")


def panel_units(dash: Dashboard) -> Iterator[Finding]:
    for panel in queries.panels(dash):
        if not panel.get("fieldConfig", {}).get("defaults", {}).get("unit"):
            yield _panel_finding("panel-units", dash, panel, "fieldConfig.defaults.unit is not set")


def panel_ids_unique(dash: Dashboard) -> Iterator[Finding]:
    seen: set[int] = set()
    for panel in dash.get("panels", []):
        pid = panel.get("id")
        if pid is None or pid in seen:
            yield _panel_finding("panel-id-unique", dash, panel, f"id {pid!r} is missing or used twice")
        seen.add(pid)


def grid_no_overlap(dash: Dashboard) -> Iterator[Finding]:
    boxes = [(p, p.get("gridPos") or {}) for p in dash.get("panels", [])]
    for panel, pos in boxes:
        if not all(isinstance(pos.get(k), int) for k in ("x", "y", "w", "h")) or pos["x"] + pos["w"] > 24:
            yield _panel_finding(
                "grid-position", dash, panel, f"gridPos {pos!r} is incomplete or past 24 columns"
            )
    for (a, pa), (b, pb) in itertools.combinations(boxes, 2):
        try:
            overlap = (
                pa["x"] < pb["x"] + pb["w"]
                and pb["x"] < pa["x"] + pa["w"]
                and pa["y"] < pb["y"] + pb["h"]
                and pb["y"] < pa["y"] + pa["h"]
            )
        except KeyError:
            continue
        if overlap:
            yield _panel_finding("grid-position", dash, a, f"overlaps {b.get('title')!r}")


def target_promql(dash: Dashboard) -> Iterator[Finding]:
    """Every expression parses after substitution; rate/increase/irate use $__rate_interval;
    counters are only ever read through rate/increase/irate."""
    counters = crossref.counters()
    sentinel = timedelta(seconds=int(_RATE_INTERVAL_SENTINEL[:-1]))
    for panel in queries.panels(dash):
        for target in panel.get("targets", []):
            raw = target.get("expr", "")
            values = {**queries.default_values(dash), "__rate_interval": _RATE_INTERVAL_SENTINEL}
            try:
                tree = promql.parse(queries.substitute(raw, values))
            except (KeyError, ValueError) as exc:
                yield _panel_finding("target-promql", dash, panel, f"{target.get('refId')}: {exc}")
                continue
            ref = target.get("refId")
            for r in promql.ranges(tree):
                if r.function in RATE_FUNCTIONS and not r.subquery and r.duration != sentinel:
                    yield _panel_finding(
                        "target-rate-interval",
                        dash,
                        panel,
                        f"{ref}: {r.function}() over {r.duration} instead of $__rate_interval",
                    )
            for s in promql.selectors(tree):
                if s.name in counters and s.function not in RATE_FUNCTIONS:
                    yield _panel_finding(
                        "target-counter-agg",
                        dash,
                        panel,
                        f"{ref}: counter {s.name} is not inside rate/increase/irate",
                    )


def target_metrics_known(dash: Dashboard, known: frozenset[str] | None = None) -> Iterator[Finding]:
    """Every metric a target selects is in the catalog or is a recording rule under alerts/."""
    known = known if known is not None else crossref.known_names()
    values = queries.default_values(dash)
    for panel in queries.panels(dash):
        for target in panel.get("targets", []):
            try:
                names = promql.metric_names(queries.substitute(target.get("expr", ""), values))
            except (KeyError, ValueError):
                continue  # reported by target_promql
            for name in sorted(names - known):
                yield _panel_finding(
                    "target-metric-known",
                    dash,
                    panel,
                    f"{target.get('refId')}: {name} is neither in observability/catalog.yaml"
                    " nor a recording rule in alerts/",
                )


RULES: dict[str, Callable[[Dashboard], Iterator[Finding]]] = {
    "dashboard-uid-title": dashboard_uid_title,
    "template-datasource": template_datasource,
    "panel-title-description": panel_title_description,
    "panel-units": panel_units,
    "panel-id-unique": panel_ids_unique,
    "grid-position": grid_no_overlap,
    "target-promql": target_promql,
    "target-metric-known": target_metrics_known,
}


def exceptions() -> list[dict[str, str]]:
    """Entries of dashboards/lint-exceptions.yaml: {dashboard, panel, rule, reason}."""
    data = yaml.safe_load(EXCEPTIONS.read_text(encoding="utf-8")) or {}
    return list(data.get("exceptions") or [])


def _excepted(finding: Finding, entries: list[dict[str, str]]) -> bool:
    return any(
        e.get("rule") == finding.rule
        and e.get("dashboard") == finding.dashboard
        and e.get("panel") in (None, finding.panel)
        for e in entries
    )


def findings(dash: Dashboard) -> list[Finding]:
    entries = exceptions()
    return [f for rule in RULES.values() for f in rule(dash) if not _excepted(f, entries)]
