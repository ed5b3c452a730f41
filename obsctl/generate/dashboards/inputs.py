"""What the jsonnet sources receive from observability/: catalog, thresholds, SLO list, marker.

Passed as jsonnet external variables (JSON code), so every metric flag, threshold and objective that
a panel draws is read from the same files the alerts are generated from, never typed twice.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

import catalog
from obsctl import paths
from obsctl.errors import ObsctlError, Problem
from obsctl.generate.rules import windows
from obsctl.generate.slo import load
from obsctl.generate.slo.model import SLO

_LE = re.compile(r'le="([0-9.]+)"')


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ObsctlError([Problem(file=str(path), message=f"cannot read: {exc}")]) from exc


def thresholds() -> dict[str, Any]:
    data = _read_yaml(paths.THRESHOLDS)
    if not isinstance(data, dict) or not isinstance(data.get("alerts"), dict):
        raise ObsctlError([Problem(file=str(paths.THRESHOLDS), field="alerts", message="expected a mapping")])
    return data


def burn_windows(period: str) -> list[dict[str, Any]]:
    """The alert window pairs and burn factors, from the same table the SLO alerts are made from."""
    return [
        {"severity": p.tier, "long": p.long, "short": p.short, "factor": float(p.factor(period))}
        for p in windows.pairs(period)
    ]


def _latency_threshold(slo: SLO) -> float | None:
    # A latency SLI counts requests slower than a bucket boundary: its `le` is the threshold.
    found = _LE.search(slo.error_query or slo.error_ratio_query or slo.total_query or "")
    return float(found.group(1)) if found else None


def slos() -> list[dict[str, Any]]:
    """Every SLO in observability/slos/ (Sloth prometheus/v1 or OpenSLO v1), read by obsctl.generate.slo."""
    return [
        {
            "service": slo.service,
            "name": slo.name,
            "id": slo.id,  # Sloth's sloth_id
            "objective": float(slo.objective_ratio),
            # Computed here in Decimal: 1 - objective in jsonnet floats prints 0.00050000000000005.
            "error_budget": float(slo.error_budget),
            "description": slo.description,
            "latency_threshold_seconds": _latency_threshold(slo),
        }
        for slo in sorted(load.read(paths.SLOS), key=lambda s: s.id)
    ]


def ext_vars() -> dict[str, str]:
    """The jsonnet external variables (as JSON code) every dashboard source is evaluated with."""
    th = thresholds()
    period = th.get("slo_defaults", {}).get("period", "30d")
    slo_data = {"period": period, "burn_windows": burn_windows(period), "list": slos()}
    return {
        "catalog": json.dumps(catalog.default().model_dump(mode="json"), sort_keys=True),
        "thresholds": json.dumps(th, sort_keys=True),
        "slos": json.dumps(slo_data, sort_keys=True),
        "generatedHeader": json.dumps(paths.GENERATED_HEADER),
    }
