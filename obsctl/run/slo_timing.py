"""What the SLO math predicts for a generated burn-rate page: how long after a fault it fires, and
how long after recovery it resolves.

The page's expression is read from the generated rule file, so the prediction follows the rules as
they are: conditions joined by `or`, each a set of windows joined by `and`, each window
`slo:sli_error:ratio_rate<W> > threshold`. With steady traffic, a fault failing a share of requests
for F seconds after H seconds of healthy traffic, a window of W seconds holds the failing seconds
that overlap it, out of min(W, all the traffic so far). The simulation steps through time until the
page's state changes. Prometheus adds its own lag on top (scrape and evaluation intervals).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from obsctl import paths
from obsctl.errors import ObsctlError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_WINDOW = re.compile(r"slo:sli_error:ratio_rate(\d+)([smhdw])\{[^}]*\}\s*>\s*([0-9.eE+-]+)")


@dataclass(frozen=True)
class Window:
    seconds: float
    threshold: float


Condition = tuple[Window, ...]  # every window must exceed its threshold


def page_conditions(alert: str, severity: str = "critical", rules_dir: Path | None = None) -> list[Condition]:
    """The conditions of the generated alert `alert` with `severity`, from alerts/rules/*.yml."""
    for path in sorted((rules_dir or paths.ALERTS / "rules").glob("*.yml")):
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []):
            for rule in group.get("rules", []):
                if rule.get("alert") == alert and rule.get("labels", {}).get("severity") == severity:
                    return _conditions(str(rule["expr"]))
    raise ObsctlError(f"no alert {alert} with severity {severity} in {rules_dir or paths.ALERTS / 'rules'}")


def _conditions(expr: str) -> list[Condition]:
    out = []
    for part in re.split(r"\)\s*or\s*\(", expr):
        windows = tuple(
            Window(int(n) * _UNITS[unit], float(threshold)) for n, unit, threshold in _WINDOW.findall(part)
        )
        if windows:
            out.append(windows)
    return out


def _ratio(
    window: float, error_ratio: float, fault: tuple[float, float], now: float, healthy_s: float
) -> float:
    """Error ratio over `window` at time `now`; the fault spans fault[0]..fault[1]; traffic began at
    -healthy_s (time 0 is when the fault began)."""
    start = max(now - window, -healthy_s)
    overlap = max(0.0, min(now, fault[1]) - max(start, fault[0]))
    traffic = now - start
    return error_ratio * overlap / traffic if traffic > 0 else 0.0


def _firing(conditions: list[Condition], *args: float | tuple[float, float]) -> bool:
    return any(all(_ratio(w.seconds, *args) > w.threshold for w in c) for c in conditions)  # type: ignore[arg-type]


def seconds_to_fire(conditions: list[Condition], error_ratio: float, healthy_s: float) -> float | None:
    """Seconds from the start of a lasting fault until the page fires (None: not within a day)."""
    t = 0.0
    while t < 86400:
        t += 0.05 if t < 120 else 1.0
        if _firing(conditions, error_ratio, (0.0, float("inf")), t, healthy_s):
            return t
    return None


def seconds_to_resolve(
    conditions: list[Condition], error_ratio: float, healthy_s: float, fault_s: float
) -> float | None:
    """Seconds from the end of a fault of `fault_s` seconds until the page stops firing."""
    t = 0.0
    while t < 7 * 86400:
        if not _firing(conditions, error_ratio, (0.0, fault_s), fault_s + t, healthy_s):
            return t
        t += 0.5 if t < 3600 else 10.0
    return None
