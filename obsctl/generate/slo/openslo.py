"""Reader for OpenSLO `openslo/v1` documents: kind SLO with an inline or referenced ratio SLI
(kind SLI), a rolling time window and occurrences budgeting.

Convention (ours, documented in docs/slos.md): the Prometheus queries of the ratio metric contain
the `{{.window}}` placeholder, as Sloth queries do, because one SLI is evaluated over every alert
window and the period.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator

from obsctl.errors import StrictModel
from obsctl.generate.slo.model import OPENSLO_SPEC, SLO, AlertTier


class Metadata(StrictModel):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    displayName: str = ""
    labels: dict[str, str | list[str]] = {}
    annotations: dict[str, str] = {}


class PrometheusQuery(StrictModel):
    query: str


class MetricSource(StrictModel):
    type: Literal["Prometheus", "prometheus"]
    spec: PrometheusQuery


class MetricHolder(StrictModel):
    metricSource: MetricSource


class RatioMetric(StrictModel):
    counter: bool = True
    good: MetricHolder | None = None
    bad: MetricHolder | None = None
    total: MetricHolder

    @model_validator(mode="after")
    def _one_of(self) -> RatioMetric:
        if (self.good is None) == (self.bad is None):
            raise ValueError("exactly one of good or bad is required")
        return self


class SLISpec(StrictModel):
    description: str = ""
    ratioMetric: RatioMetric


class SLIDoc(StrictModel):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["SLI"]
    metadata: Metadata
    spec: SLISpec


class InlineSLI(StrictModel):
    metadata: Metadata
    spec: SLISpec


class TimeWindow(StrictModel):
    duration: Literal["30d", "28d", "7d"]
    isRolling: Literal[True]


class Objective(StrictModel):
    displayName: str = ""
    target: float | None = None
    targetPercent: float | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Objective:
        if (self.target is None) == (self.targetPercent is None):
            raise ValueError("exactly one of target (0..1) or targetPercent (0..100) is required")
        return self


class SLOSpec(StrictModel):
    description: str = ""
    service: str = Field(pattern=r"^[A-Za-z0-9][-A-Za-z0-9_]*$")
    indicator: InlineSLI | None = None
    indicatorRef: str | None = None
    timeWindow: list[TimeWindow] = Field(min_length=1, max_length=1)
    budgetingMethod: Literal["Occurrences"]
    objectives: list[Objective] = Field(min_length=1, max_length=1)

    @model_validator(mode="after")
    def _one_indicator(self) -> SLOSpec:
        if (self.indicator is None) == (self.indicatorRef is None):
            raise ValueError("exactly one of indicator or indicatorRef is required")
        return self


class SLODoc(StrictModel):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["SLO"]
    metadata: Metadata
    spec: SLOSpec


def _labels(meta: Metadata) -> dict[str, str]:
    # OpenSLO v1 label values may be lists; Prometheus labels hold one string.
    return {k: ",".join(v) if isinstance(v, list) else v for k, v in sorted(meta.labels.items())}


def camel(*parts: str) -> str:
    words: list[str] = []
    for p in parts:
        for w in p.replace("_", "-").split("-"):
            if w and (not words or w.lower() != words[-1].lower()):
                words.append(w[:1].upper() + w[1:])
    return "".join(words)


def to_slo(doc: SLODoc, sli: SLISpec, source: str, where: str) -> SLO:
    """`where` names the SLI's location for messages (spec.indicator.spec or the SLI document)."""
    ratio = sli.ratioMetric
    total = ratio.total.metricSource.spec.query.strip()
    if ratio.bad is not None:
        error = ratio.bad.metricSource.spec.query.strip()
    else:
        assert ratio.good is not None
        error = f"({total}) - ({ratio.good.metricSource.spec.query.strip()})"
    kind = "bad" if ratio.bad is not None else "good"
    objective = doc.spec.objectives[0]
    percent = (
        Decimal(str(objective.target)) * 100
        if objective.target is not None
        else Decimal(str(objective.targetPercent))
    )
    service = doc.spec.service
    name = doc.metadata.name
    # A name that already starts with the service is not prefixed twice (notification-delivery).
    alert = camel(service, name) if not name.startswith(service) else camel(name)
    return SLO(
        source=source,
        spec=OPENSLO_SPEC,
        service=service,
        name=name,
        objective=percent.normalize(),
        description=doc.spec.description or doc.metadata.displayName,
        labels=_labels(doc.metadata),
        error_query=error,
        total_query=total,
        error_ratio_query=None,
        alert_name=f"{alert}BudgetBurn",
        alert_labels={},
        alert_annotations={},
        page=AlertTier(labels={"severity": "critical"}),
        ticket=AlertTier(labels={"severity": "warning"}),
        period=doc.spec.timeWindow[0].duration,
        fields={
            "error": f"{where}.ratioMetric.{kind}.metricSource.spec.query",
            "total": f"{where}.ratioMetric.total.metricSource.spec.query",
        },
        raw_queries={
            f"{where}.ratioMetric.{kind}.metricSource.spec.query": holder.metricSource.spec.query
            for kind, holder in (("good", ratio.good), ("bad", ratio.bad), ("total", ratio.total))
            if holder is not None
        },
    )


def kind_of(doc: Any) -> str | None:
    return doc.get("kind") if isinstance(doc, dict) else None
