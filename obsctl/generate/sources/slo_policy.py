"""observability/slo-policy.yaml: how every SLO's rules and alerts are generated (defaults), and the
per-SLO exceptions (overrides, keyed by sloth_id)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field

from obsctl import paths
from obsctl.errors import StrictModel
from obsctl.generate.sources.read import load_model

DURATION = r"^([0-9]+(ms|s|m|h|d|w|y))+$"


class TierDefaults(StrictModel):
    """One tier of the burn-rate alerts: page (severity critical) or ticket (severity warning)."""

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
    """Exceptions to the defaults for one SLO."""

    page: TierDefaults | None = None
    ticket: TierDefaults | None = None
    min_request_rate: float | None = Field(None, ge=0)


class SLOPolicy(StrictModel):
    defaults: SLODefaults = SLODefaults()
    # Keyed by sloth_id (<service>-<slo name>); an id that names no SLO is an error at generation.
    overrides: dict[str, SLOOverride] = {}


def load(path: Path | None = None) -> SLOPolicy:
    return load_model(path or paths.SLO_POLICY, SLOPolicy, objects={"overrides": "SLO"})


@lru_cache(maxsize=1)
def default() -> SLOPolicy:
    return load()
