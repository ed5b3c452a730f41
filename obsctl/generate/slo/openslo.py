"""Readers for OpenSLO: `openslo/v1` documents (kind SLO with an inline or referenced ratio SLI of
kind SLI, a rolling time window and occurrences budgeting) and `openslo/v1alpha` SLOs as Sloth reads
them (one SLO per objective, `<name>-<index>`, ratio metrics, no alerts).

A good/total ratio counts as errors `total - good`, where a missing good series counts as no good
events: a service answering only errors (no good series was ever exported) reads an error ratio of
1, not no ratio at all.

Convention (ours, documented in docs/slos.md): the Prometheus queries of the ratio metric contain
the `{{.window}}` placeholder, as Sloth queries do, because one SLI is evaluated over every alert
window and the period.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, model_validator

from obsctl.errors import Problem, StrictModel
from obsctl.generate.slo.model import OPENSLO_ALPHA_SPEC, OPENSLO_SPEC, SLO, AlertTier, Document


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
        error = errors_from_good(ratio.good.metricSource.spec.query, total)
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


def errors_from_good(good: str, total: str) -> str:
    """The error events of a good/total ratio: total minus good, a missing good series being 0."""
    good, total = good.strip(), total.strip()
    return f"({total}) - (({good}) or ({total}) * 0)"


class AlphaMetadata(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
    displayName: str = ""


class AlphaQuery(StrictModel):
    source: Literal["prometheus", "sloth"]
    queryType: Literal["promql"]
    query: str


class AlphaRatio(StrictModel):
    good: AlphaQuery
    total: AlphaQuery
    counter: bool = False


class AlphaObjective(StrictModel):
    displayName: str = ""
    value: float = 0
    ratioMetrics: AlphaRatio
    target: float = Field(ge=0, lt=1)
    timeSliceTarget: float | None = None
    op: str | None = None


class AlphaTimeWindow(StrictModel):
    unit: Literal["Second", "Quarter", "Month", "Week", "Day"]
    count: int = Field(gt=0)
    isRolling: bool = False
    calendar: dict[str, Any] | None = None


class AlphaMetricSource(StrictModel):
    source: str
    queryType: str
    query: str


class AlphaIndicator(StrictModel):
    thresholdMetric: AlphaMetricSource


class AlphaSpec(StrictModel):
    description: str = ""
    service: str = Field(pattern=r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
    budgetingMethod: Literal["Occurrences", "Timeslices"]
    indicator: AlphaIndicator | None = None
    objectives: list[AlphaObjective] = Field(min_length=1)
    timeWindows: list[AlphaTimeWindow] = Field(default=[], max_length=1)


class AlphaSLODoc(StrictModel):
    """An OpenSLO v1alpha SLO (github.com/OpenSLO/oslo pkg/manifest/v1alpha), as Sloth reads it."""

    apiVersion: Literal["openslo/v1alpha"]
    kind: Literal["SLO"]
    metadata: AlphaMetadata
    spec: AlphaSpec


_ALPHA_UNITS = {"Day": "d", "Week": "w"}


def alpha_to_slos(doc: AlphaSLODoc, source: str, index: int, problems: list[Problem]) -> list[SLO]:
    """One SLO per objective, named and identified as Sloth names them; no burn-rate alerts (the
    format has no alerting section, and Sloth generates none)."""
    obj = f"SLO {doc.metadata.name}"
    period = None
    if doc.spec.budgetingMethod != "Occurrences":
        problems.append(
            Problem(
                file=source,
                obj=obj,
                field="spec.budgetingMethod",
                message=f"not supported: {doc.spec.budgetingMethod} budgeting in openslo/v1alpha; "
                "expected Occurrences",
            )
        )
    for w in doc.spec.timeWindows:
        if w.calendar is not None or w.unit not in _ALPHA_UNITS:
            problems.append(
                Problem(
                    file=source,
                    obj=obj,
                    field="spec.timeWindows.0",
                    message="not supported: "
                    f"{'a calendar window' if w.calendar is not None else w.unit + ' units'}; "
                    "expected a rolling window counted in Day or Week",
                )
            )
        else:
            period = f"{w.count}{_ALPHA_UNITS[w.unit]}"
    document = Document(source=source, index=index, spec=OPENSLO_ALPHA_SPEC, name=doc.metadata.name)
    out = []
    for i, o in enumerate(doc.spec.objectives):
        at = f"spec.objectives.{i}.ratioMetrics"
        good, total = o.ratioMetrics.good.query, o.ratioMetrics.total.query
        out.append(
            SLO(
                source=source,
                spec=OPENSLO_ALPHA_SPEC,
                service=doc.spec.service,
                name=f"{doc.metadata.name}-{i}",
                objective=(Decimal(str(o.target)) * 100).normalize(),
                description=doc.spec.description,
                labels={},
                error_query=errors_from_good(good, total),
                total_query=total.strip(),
                error_ratio_query=None,
                alert_name="",
                alert_labels={},
                alert_annotations={},
                page=AlertTier(enabled=False),
                ticket=AlertTier(enabled=False),
                period=period,
                fields={"error": f"{at}.good.query", "total": f"{at}.total.query"},
                raw_queries={f"{at}.good.query": good, f"{at}.total.query": total},
                document=document,
            )
        )
    return out


def kind_of(doc: Any) -> str | None:
    return doc.get("kind") if isinstance(doc, dict) else None
