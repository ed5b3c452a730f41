"""Which metric names a dashboard may select: the catalog's series and the recording rules in alerts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

import catalog
from obsctl import paths


def recording_rules(alerts_dir: Path | None = None) -> frozenset[str]:
    """Every `record:` name in the Prometheus rule files under alerts/ (tests excluded)."""
    root = alerts_dir or paths.ALERTS
    names: set[str] = set()
    for path in sorted([*root.rglob("*.yml"), *root.rglob("*.yaml")]):
        if "tests" in path.relative_to(root).parts:
            continue
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            continue
        for group in data.get("groups") or []:
            for rule in group.get("rules") or []:
                if "record" in rule:
                    names.add(rule["record"])
    return frozenset(names)


# The Sloth-compatible recording rules the SLO generator writes (design notes, "SLOs and alerts").
# Used only while alerts/ holds no rule files yet (a fresh tree before `make rules`): as soon as
# it does, the names found there are the only ones accepted, so a renamed rule fails the check.
SLOTH_RULES = frozenset(
    {f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "7d", "28d", "30d")}
    | {
        "slo:objective:ratio",
        "slo:error_budget:ratio",
        "slo:time_period:days",
        "slo:current_burn_rate:ratio",
        "slo:period_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio",
        "sloth_slo_info",
    }
)


def known_names() -> frozenset[str]:
    rules = recording_rules()
    return catalog.default().known_series() | (rules or SLOTH_RULES)


def counters() -> frozenset[str]:
    """Series that only ever increase: catalog counters and histogram buckets, sums and counts."""
    out: set[str] = set()
    for metric in catalog.default().all_metrics():
        if metric.type in ("counter", "histogram"):
            out.update(metric.series_names())
    return frozenset(out)
