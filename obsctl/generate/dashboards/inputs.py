"""What the jsonnet sources receive from observability/: catalog, thresholds, SLO list, marker.

Passed as jsonnet external variables (JSON code), so every metric flag, threshold and objective that
a panel draws is read through the same models the alerts are generated from, never typed twice:
the catalog, the service alerts' thresholds (sources.service_alerts), the SLO period
(sources.slo_policy) and the SLOs (obsctl.generate.slo).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import catalog
from obsctl import paths
from obsctl.generate.rules import windows
from obsctl.generate.slo import load
from obsctl.generate.sources import service_alerts, slo_policy


def thresholds() -> dict[str, Any]:
    """Every service alert's named thresholds ({"alerts": {name: {threshold: value}}}): the red
    lines of the panels that watch what the alert watches."""
    return {"alerts": {name: dict(a.thresholds) for name, a in service_alerts.default().alerts.items()}}


def period() -> str:
    """The SLO period of specs that set none (slo-policy.yaml defaults.period)."""
    return slo_policy.default().defaults.period


def burn_windows(period: str) -> list[dict[str, Any]]:
    """The alert window pairs and burn factors, from the same table the SLO alerts are made from."""
    return [
        {"severity": p.tier, "long": p.long, "short": p.short, "factor": float(p.factor(period))}
        for p in windows.pairs(period)
    ]


def _seconds(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


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
            "latency_threshold_seconds": _seconds(slo.latency_threshold_seconds),
        }
        for slo in sorted(load.read(paths.SLOS), key=lambda s: s.id)
    ]


def ext_vars() -> dict[str, str]:
    """The jsonnet external variables (as JSON code) every dashboard source is evaluated with."""
    default_period = period()
    slo_data = {"period": default_period, "burn_windows": burn_windows(default_period), "list": slos()}
    return {
        "catalog": json.dumps(catalog.default().model_dump(mode="json"), sort_keys=True),
        "thresholds": json.dumps(thresholds(), sort_keys=True),
        "slos": json.dumps(slo_data, sort_keys=True),
        "generatedHeader": json.dumps(paths.GENERATED_HEADER),
    }
