"""Which metric names a dashboard may select: the catalog's series and the generated recording rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

import catalog
from obsctl.generate import conventions
from obsctl.generate.rules import layout, windows


def recording_rules(root: Path | None = None) -> frozenset[str]:
    """Every `record:` name in the generated rule files of the repository at `root` (this one)."""
    names: set[str] = set()
    for path in layout.rule_files(root):
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            continue
        for group in data.get("groups") or []:
            for rule in group.get("rules") or []:
                if "record" in rule:
                    names.add(rule["record"])
    return frozenset(names)


def known_names() -> frozenset[str]:
    # In a tree without generated rules yet (before the first `make rules`), every name the SLO
    # rules may record stands in for them; once rules exist, only the recorded names are accepted,
    # so a renamed rule fails the check.
    rules = recording_rules() or conventions.records(windows.RECORDED_WINDOWS)
    return catalog.default().known_series() | rules


def counters() -> frozenset[str]:
    """Series that only ever increase: catalog counters and histogram buckets, sums and counts."""
    out: set[str] = set()
    for metric in catalog.default().all_metrics():
        if metric.type in ("counter", "histogram"):
            out.update(metric.series_names())
    return frozenset(out)
