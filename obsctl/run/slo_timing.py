"""What the SLO math predicts for a generated burn-rate page: how long after a fault it fires, and
how long after recovery it resolves.

The page's expression is read from the generated rule file, so the prediction follows the rules as
they are: conditions joined by `or`, each a set of windows joined by `and`, each window the SLI
recording of a window W (named in obsctl.generate.conventions) `> threshold`. With steady traffic,
a fault failing a share of requests for F seconds after H seconds of healthy traffic, a window of
W seconds holds the failing seconds that overlap it, out of min(W, all the traffic so far). The
simulation steps through time until the page's state changes. Prometheus adds its own lag on top
(scrape and evaluation intervals).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from obsctl.errors import ObsctlError
from obsctl.generate import conventions
from obsctl.generate.rules import layout

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# A series compared with a threshold: `name{...} > 0.0072`.
_COMPARISON = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{[^}]*\}\s*>\s*([0-9.eE+-]+)")
_DURATION = re.compile(r"(\d+)([smhdw])")


@dataclass(frozen=True)
class Window:
    seconds: float
    threshold: float


Condition = tuple[Window, ...]  # every window must exceed its threshold


def page_conditions(alert: str, severity: str = "critical", root: Path | None = None) -> list[Condition]:
    """The conditions of the generated alert `alert` with `severity`, from the generated rule files
    of the repository at `root` (this one by default)."""
    for path in layout.rule_files(root):
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []):
            for rule in group.get("rules", []):
                if rule.get("alert") == alert and rule.get("labels", {}).get("severity") == severity:
                    return _conditions(str(rule["expr"]))
    raise ObsctlError(f"no alert {alert} with severity {severity} in {layout.RULES_DIR}/*.yml")


def _seconds(window: str) -> int:
    found = _DURATION.fullmatch(window)
    if found is None:
        raise ObsctlError(f"SLI window {window!r}: expected a number and one of {', '.join(_UNITS)}")
    return int(found.group(1)) * _UNITS[found.group(2)]


def _conditions(expr: str) -> list[Condition]:
    out = []
    for part in re.split(r"\)\s*or\s*\(", expr):
        windows = tuple(
            Window(_seconds(window), float(threshold))
            for name, threshold in _COMPARISON.findall(part)
            if (window := conventions.sli_error_window(name)) is not None
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
