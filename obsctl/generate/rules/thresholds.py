"""observability/thresholds.yaml: SLO generation defaults, service-alert thresholds, routing."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import ConfigDict, Field, ValidationError

from obsctl import paths
from obsctl.errors import ObsctlError, Problem, StrictModel, from_validation

DURATION = r"^([0-9]+(ms|s|m|h|d|w|y))+$"


class TierDefaults(StrictModel):
    enabled: bool = True
    for_: str = Field("0s", alias="for", pattern=DURATION)
    # The reset guard: every window pair of the tier must also burn over this shorter window, so
    # the alert resolves soon after recovery instead of when the pair's own short window drains
    # (30 minutes for the 6h/30m page pair). None keeps Sloth's behaviour exactly.
    reset_window: Literal["5m", "30m"] | None = None


class SLODefaults(StrictModel):
    period: Literal["30d", "28d", "7d"] = "30d"
    page: TierDefaults = TierDefaults()
    ticket: TierDefaults = TierDefaults()
    min_request_rate: float = Field(0, ge=0)
    absent_for: str = Field("10m", pattern=DURATION)


class SLOOverride(StrictModel):
    """Per-SLO exceptions to slo_defaults, keyed by sloth_id (<service>-<slo name>)."""

    page: TierDefaults | None = None
    ticket: TierDefaults | None = None
    min_request_rate: float | None = Field(None, ge=0)


class AlertThreshold(StrictModel):
    """One service alert's settings; the keys besides `for` and `severity` depend on the alert."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    for_: str = Field(alias="for", pattern=DURATION)
    severity: Literal["critical", "warning", "info"] = "warning"

    def value(self, key: str) -> float:
        extra = self.model_extra or {}
        if key not in extra or not isinstance(extra[key], int | float):
            raise KeyError(key)
        return float(extra[key])


class Alertmanager(StrictModel):
    webhook_base_url: str = Field(pattern=r"^https?://")


class Thresholds(StrictModel):
    # Other areas own other top-level keys of the file (tracing: the collector): not ours to check.
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    slo_defaults: SLODefaults = SLODefaults()
    slo_overrides: dict[str, SLOOverride] = {}
    runbook_base_url: str = "docs/runbooks.md"
    alerts: dict[str, AlertThreshold]
    alertmanager: Alertmanager


def load(path: Path | None = None) -> Thresholds:
    path = path or paths.THRESHOLDS
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Thresholds.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise ObsctlError([Problem(file=str(path), message=f"cannot read: {exc}")]) from exc
    except ValidationError as exc:
        raise from_validation(str(path), exc) from exc


@lru_cache(maxsize=1)
def default() -> Thresholds:
    return load()
