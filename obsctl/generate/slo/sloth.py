"""Reader for Sloth `prometheus/v1` specs, unchanged (a drop-in for Sloth users).

Field names and meaning follow Sloth's spec; unknown fields are errors rather than silently
ignored, so a typo (`objetive:`) cannot turn an SLO off.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from obsctl.errors import StrictModel
from obsctl.generate.slo.model import SLO, SLOTH_SPEC, AlertTier


class Events(StrictModel):
    error_query: str
    total_query: str


class Raw(StrictModel):
    error_ratio_query: str


class Plugin(StrictModel):
    id: str
    options: dict[str, Any] = {}


class SLI(StrictModel):
    events: Events | None = None
    raw: Raw | None = None
    plugin: Plugin | None = None


class Tier(StrictModel):
    disable: bool = False
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class Alerting(StrictModel):
    name: str = ""
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    page_alert: Tier = Tier()
    ticket_alert: Tier = Tier()


class SlothSLO(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][-A-Za-z0-9_]*$")
    objective: float
    description: str = ""
    labels: dict[str, str] = {}
    sli: SLI
    alerting: Alerting = Alerting()


class Spec(StrictModel):
    version: Literal["prometheus/v1"]
    service: str = Field(pattern=r"^[A-Za-z0-9][-A-Za-z0-9_]*$")
    labels: dict[str, str] = {}
    slos: list[SlothSLO] = Field(min_length=1)


def _tier(t: Tier) -> AlertTier:
    # Sloth can only switch a tier off; leaving it on means "the generation default".
    return AlertTier(enabled=False if t.disable else None, labels=t.labels, annotations=t.annotations)


def to_slos(spec: Spec, source: str) -> list[SLO]:
    out = []
    for s in spec.slos:
        events = s.sli.events
        out.append(
            SLO(
                source=source,
                spec=SLOTH_SPEC,
                service=spec.service,
                name=s.name,
                objective=Decimal(str(s.objective)),
                description=s.description,
                labels={**spec.labels, **s.labels},
                error_query=events.error_query if events else None,
                total_query=events.total_query if events else None,
                error_ratio_query=s.sli.raw.error_ratio_query if s.sli.raw else None,
                alert_name=s.alerting.name,
                alert_labels=s.alerting.labels,
                alert_annotations=s.alerting.annotations,
                page=_tier(s.alerting.page_alert),
                ticket=_tier(s.alerting.ticket_alert),
                fields={
                    "error": "sli.events.error_query",
                    "total": "sli.events.total_query",
                    "ratio": "sli.raw.error_ratio_query",
                },
                raw_queries={
                    **(
                        {
                            "sli.events.error_query": events.error_query,
                            "sli.events.total_query": events.total_query,
                        }
                        if events
                        else {}
                    ),
                    **({"sli.raw.error_ratio_query": s.sli.raw.error_ratio_query} if s.sli.raw else {}),
                },
            )
        )
    return out
