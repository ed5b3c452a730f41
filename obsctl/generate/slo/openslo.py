"""Readers for OpenSLO: `openslo/v1` (every kind: SLO, SLI, AlertPolicy, AlertCondition,
AlertNotificationTarget, Service, DataSource) and `openslo/v1alpha` SLOs as Sloth reads them (one
SLO per objective, `<name>-<index>`, ratio metrics, no alerts).

OpenSLO v1, all that Prometheus can express:
- `ratioMetric` good/total, bad/total or raw (`rawType` success or failure), `thresholdMetric`
  (objective `op` and `value`), inline or through `indicatorRef`;
- Prometheus metric sources, inline (`type: Prometheus`) or through `metricSourceRef` to a
  DataSource of type Prometheus;
- one rolling `timeWindow` of any duration (none: the generation's default period);
- `budgetingMethod` Occurrences, Timeslices (`timeSliceTarget`, `timeSliceWindow`) and
  RatioTimeslices;
- any number of objectives, each its own SLO (`<name>-<index>` when there are several);
- `alertPolicies`, inline or by `alertPolicyRef`, with conditions inline or by `conditionRef`
  (kind burnrate: threshold, lookbackWindow, alertAfter) and notification targets (inline or by
  `targetRef`), turned into alerts.
What Prometheus cannot express (calendar windows, non-Prometheus sources) is refused with
"not supported: ...", never as an unknown field.

A good/total ratio counts as errors `total - good`, where a missing good series counts as no good
events: a service answering only errors (no good series was ever exported) reads an error ratio of
1, not no ratio at all.

Convention (ours, documented in docs/slos.md): the Prometheus queries of a ratio metric contain
the `{{.window}}` placeholder, as Sloth queries do, because one SLI is evaluated over every alert
window and the period; in a threshold metric's query it is optional (the time slice window).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from obsctl.errors import Problem, StrictModel
from obsctl.generate import conventions
from obsctl.generate.durations import canonical, milliseconds
from obsctl.generate.slo.model import (
    OPENSLO_ALPHA_SPEC,
    OPENSLO_SPEC,
    SLO,
    AlertTier,
    BurnAlert,
    Document,
    Slices,
    Threshold,
)
from obsctl.generate.slo.numbers import clean

_NAME = r"^[A-Za-z0-9]([-A-Za-z0-9_.|/\\]*[A-Za-z0-9])?$"


class Metadata(StrictModel):
    name: str = Field(pattern=_NAME)
    displayName: str = ""
    labels: dict[str, str | list[str]] = {}
    annotations: dict[str, str] = {}


class MetricSource(StrictModel):
    metricSourceRef: str | None = None
    type: str | None = None
    # The source's own fields: a Prometheus source's is `query`.
    spec: dict[str, Any] = {}


class MetricHolder(StrictModel):
    metricSource: MetricSource


class RatioMetric(StrictModel):
    counter: bool = True  # the queries say how to read the metric (rate or not): informative only
    good: MetricHolder | None = None
    bad: MetricHolder | None = None
    total: MetricHolder | None = None
    rawType: Literal["success", "failure"] | None = None
    raw: MetricHolder | None = None

    @model_validator(mode="after")
    def _one_of(self) -> RatioMetric:
        if self.raw is not None:
            if self.good is not None or self.bad is not None or self.total is not None:
                raise ValueError("raw with good, bad or total; expected either raw or good/bad with total")
            if self.rawType is None:
                raise ValueError("raw without rawType; expected rawType success or failure")
            return self
        if self.total is None:
            raise ValueError("no total and no raw; expected good or bad with total, or raw with rawType")
        if (self.good is None) == (self.bad is None):
            raise ValueError("expected exactly one of good or bad with total")
        return self


class SLISpec(StrictModel):
    description: str = ""
    thresholdMetric: MetricHolder | None = None
    ratioMetric: RatioMetric | None = None

    @model_validator(mode="after")
    def _one_metric(self) -> SLISpec:
        if (self.thresholdMetric is None) == (self.ratioMetric is None):
            raise ValueError("expected exactly one of ratioMetric or thresholdMetric")
        return self


class SLIDoc(StrictModel):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["SLI"]
    metadata: Metadata
    spec: SLISpec


class InlineSLI(StrictModel):
    apiVersion: Literal["openslo/v1"] | None = None
    kind: Literal["SLI"] | None = None
    metadata: Metadata
    spec: SLISpec


class Calendar(StrictModel):
    startTime: str
    timeZone: str


class TimeWindow(StrictModel):
    duration: str
    isRolling: bool | None = None
    calendar: Calendar | None = None


class Objective(StrictModel):
    displayName: str = ""
    op: Literal["lt", "lte", "gt", "gte"] | None = None
    value: float | None = None
    # Ranges are checked with the SLO's other problems (an objective of 100% or more, a slice
    # target outside (0, 1]), not by the schema, so one does not hide the others.
    target: float | None = None
    targetPercent: float | None = None
    timeSliceTarget: float | None = None
    timeSliceWindow: str | int | None = None
    # Composite SLOs (an SLI per objective), defined by later revisions of the spec: refused.
    indicator: dict[str, Any] | None = None
    indicatorRef: str | None = None
    compositeWeight: float | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Objective:
        if (self.target is None) == (self.targetPercent is None):
            raise ValueError("expected exactly one of target (0..1) or targetPercent (0..100)")
        return self


_ZERO = re.compile(r"^0+(ms|[smhdw])?$")


class Burnrate(StrictModel):
    kind: Literal["burnrate"] = "burnrate"
    threshold: float = Field(gt=0)
    lookbackWindow: str
    alertAfter: str = "0m"

    @field_validator("lookbackWindow")
    @classmethod
    def _lookback(cls, value: str) -> str:
        milliseconds(value)  # ValueError: got ...; expected a Prometheus duration
        return canonical(value)

    @field_validator("alertAfter")
    @classmethod
    def _after(cls, value: str) -> str:
        if _ZERO.match(value.strip()):
            return "0s"
        milliseconds(value)
        return canonical(value)


class AlertConditionSpec(StrictModel):
    description: str = ""
    severity: str = Field(min_length=1)
    condition: Burnrate


class AlertConditionDoc(StrictModel):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["AlertCondition"]
    metadata: Metadata
    spec: AlertConditionSpec


class ConditionEntry(StrictModel):
    """One of an alert policy's conditions: inline (kind AlertCondition) or `conditionRef`."""

    conditionRef: str | None = None
    apiVersion: Literal["openslo/v1"] | None = None
    kind: Literal["AlertCondition"] | None = None
    metadata: Metadata | None = None
    spec: AlertConditionSpec | None = None

    @model_validator(mode="after")
    def _inline_or_ref(self) -> ConditionEntry:
        if (self.conditionRef is None) == (self.spec is None or self.metadata is None):
            raise ValueError("expected either conditionRef or an inline AlertCondition (metadata and spec)")
        return self


class NotificationTargetSpec(StrictModel):
    description: str = ""
    target: str


class NotificationTargetDoc(StrictModel):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["AlertNotificationTarget"]
    metadata: Metadata
    spec: NotificationTargetSpec


class TargetEntry(StrictModel):
    targetRef: str | None = None
    apiVersion: Literal["openslo/v1"] | None = None
    kind: Literal["AlertNotificationTarget"] | None = None
    metadata: Metadata | None = None
    spec: NotificationTargetSpec | None = None

    @model_validator(mode="after")
    def _inline_or_ref(self) -> TargetEntry:
        if (self.targetRef is None) == (self.metadata is None):
            raise ValueError(
                "expected either targetRef or an inline AlertNotificationTarget (metadata, spec)"
            )
        return self


class AlertPolicySpec(StrictModel):
    description: str = ""
    alertWhenNoData: bool = False
    alertWhenResolved: bool = False  # Alertmanager's send_resolved: a receiver's setting, not a rule's
    alertWhenBreaching: bool = True
    conditions: list[ConditionEntry] = Field(min_length=1, max_length=1)
    notificationTargets: list[TargetEntry] = []


class AlertPolicyDoc(StrictModel):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["AlertPolicy"]
    metadata: Metadata
    spec: AlertPolicySpec


class PolicyEntry(StrictModel):
    alertPolicyRef: str | None = None
    apiVersion: Literal["openslo/v1"] | None = None
    kind: Literal["AlertPolicy"] | None = None
    metadata: Metadata | None = None
    spec: AlertPolicySpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _name_only(cls, value: Any) -> Any:
        # An early form of the spec lists policies by name.
        return {"alertPolicyRef": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _inline_or_ref(self) -> PolicyEntry:
        if (self.alertPolicyRef is None) == (self.spec is None or self.metadata is None):
            raise ValueError("expected either alertPolicyRef or an inline AlertPolicy (metadata and spec)")
        return self


class SLOSpec(StrictModel):
    description: str = ""
    service: str = Field(pattern=r"^[A-Za-z0-9][-A-Za-z0-9_.]*$")
    indicator: InlineSLI | None = None
    indicatorRef: str | None = None
    timeWindow: list[TimeWindow] = Field(default=[], max_length=1)
    budgetingMethod: Literal["Occurrences", "Timeslices", "RatioTimeslices"]
    objectives: list[Objective] = Field(min_length=1)
    alertPolicies: list[PolicyEntry] | None = None

    @model_validator(mode="after")
    def _one_indicator(self) -> SLOSpec:
        if (self.indicator is None) == (self.indicatorRef is None):
            raise ValueError("expected exactly one of indicator or indicatorRef")
        return self


class SLODoc(StrictModel):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["SLO"]
    metadata: Metadata
    spec: SLOSpec


class ServiceSpec(StrictModel):
    description: str = ""


class ServiceDoc(StrictModel):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["Service"]
    metadata: Metadata
    spec: ServiceSpec = ServiceSpec()


class DataSourceSpec(StrictModel):
    description: str = ""
    type: str
    connectionDetails: Any = None


class DataSourceDoc(StrictModel):
    apiVersion: Literal["openslo/v1"]
    kind: Literal["DataSource"]
    metadata: Metadata
    spec: DataSourceSpec


V1_KINDS: dict[str, type[StrictModel]] = {
    "SLO": SLODoc,
    "SLI": SLIDoc,
    "AlertPolicy": AlertPolicyDoc,
    "AlertCondition": AlertConditionDoc,
    "AlertNotificationTarget": NotificationTargetDoc,
    "Service": ServiceDoc,
    "DataSource": DataSourceDoc,
}


@dataclass
class V1Input:
    """Every openslo/v1 document of an input, by kind and name (references resolve across files)."""

    docs: dict[str, dict[str, tuple[Any, str]]] = field(default_factory=lambda: {k: {} for k in V1_KINDS})
    slos: list[tuple[SLODoc, str, int]] = field(default_factory=list)
    # Documents that failed validation (already reported): references to them are not reported again.
    broken: set[tuple[str, str]] = field(default_factory=set)

    def failed(self, kind: str, raw: Any) -> None:
        meta = raw.get("metadata") if isinstance(raw, dict) else None
        if isinstance(meta, dict) and isinstance(meta.get("name"), str):
            self.broken.add((kind, meta["name"]))

    def add(self, doc: Any, file: str, index: int, problems: list[Problem]) -> None:
        kind = doc.kind
        name = doc.metadata.name
        if kind == "SLO":
            self.slos.append((doc, file, index))
            return
        other = self.docs[kind].get(name)
        if other is not None:
            problems.append(
                Problem(
                    file=file,
                    obj=f"{kind} {name}",
                    field="metadata.name",
                    message=f"duplicate {kind} {name!r}, also defined in {other[1]}; expected unique names",
                )
            )
            return
        self.docs[kind][name] = (doc, file)

    def get(self, kind: str, name: str) -> tuple[Any, str] | None:
        return self.docs[kind].get(name)

    def to_slos(self, problems: list[Problem]) -> list[SLO]:
        out: list[SLO] = []
        for d, file, index in self.slos:
            out.extend(_slo_to_slos(d, file, index, self, problems))
        return out


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


_OPS = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_DURATION_SHORTHAND = re.compile(r"^(\d+)([mhdwMQY])$")


@dataclass
class _Where:
    file: str
    obj: str
    problems: list[Problem]

    def add(self, field: str, message: str) -> None:
        self.problems.append(Problem(file=self.file, obj=self.obj, field=field, message=message))

    def add_unless_broken(self, inp: V1Input, ref: tuple[str, str], field: str, message: str) -> None:
        """A missing reference, unless it names a document whose own problems were reported."""
        if ref not in inp.broken:
            self.add(field, message)


def _prometheus_query(holder: MetricHolder, at: str, inp: V1Input, w: _Where) -> str | None:
    """The PromQL of a metric source (inline or through a DataSource), or None after a problem."""
    source = holder.metricSource
    kind = source.type
    if source.metricSourceRef is not None:
        found = inp.get("DataSource", source.metricSourceRef)
        if found is None:
            w.add_unless_broken(
                inp,
                ("DataSource", source.metricSourceRef),
                f"{at}.metricSource.metricSourceRef",
                f"no DataSource named {source.metricSourceRef!r}; expected the name of a kind: "
                "DataSource document in the same input",
            )
            return None
        ds, ds_file = found
        if ds.spec.type.lower() != "prometheus":
            w.add(
                f"{at}.metricSource.metricSourceRef",
                f"not supported: DataSource {ds.metadata.name} ({ds_file}) of type {ds.spec.type!r}; "
                "expected a DataSource of type Prometheus",
            )
            return None
        kind = kind or ds.spec.type
    if kind is None:
        w.add(f"{at}.metricSource.type", "missing; expected type: Prometheus or a metricSourceRef")
        return None
    if kind.lower() != "prometheus":
        w.add(
            f"{at}.metricSource.type",
            f"not supported: metric source type {kind!r}; "
            "expected Prometheus (obsctl writes Prometheus rules)",
        )
        return None
    query = source.spec.get("query")
    if not isinstance(query, str):
        w.add(f"{at}.metricSource.spec.query", f"got {query!r}; expected a PromQL query")
        return None
    extra = sorted(set(source.spec) - {"query"})
    if extra:
        w.add(
            f"{at}.metricSource.spec.{extra[0]}",
            f"not supported: Prometheus source fields {', '.join(extra)}; expected only query",
        )
        return None
    return query


def _period(d: SLODoc, w: _Where) -> str | None:
    if not d.spec.timeWindow:
        return None
    tw = d.spec.timeWindow[0]
    if tw.calendar is not None or tw.isRolling is False:
        w.add(
            "spec.timeWindow.0.calendar" if tw.calendar is not None else "spec.timeWindow.0.isRolling",
            "not supported: a calendar-aligned time window (Prometheus rules evaluate rolling windows); "
            "expected isRolling: true without calendar",
        )
        return None
    m = _DURATION_SHORTHAND.match(tw.duration.strip())
    if m and m.group(2) in "MQY":
        w.add(
            "spec.timeWindow.0.duration",
            f"not supported: {tw.duration!r}, a duration in months, quarters or years (not a fixed length "
            "in Prometheus); expected days or weeks, e.g. 30d, 90d, 4w",
        )
        return None
    try:
        return canonical(tw.duration)
    except ValueError as exc:
        w.add("spec.timeWindow.0.duration", str(exc))
        return None


def _slice_window(o: Objective, at: str, w: _Where) -> str | None:
    if o.timeSliceWindow is None:
        return None
    raw = f"{o.timeSliceWindow}m" if isinstance(o.timeSliceWindow, int) else str(o.timeSliceWindow)
    try:
        milliseconds(raw)
        return canonical(raw)
    except ValueError as exc:
        w.add(f"{at}.timeSliceWindow", str(exc))
        return None


def _alerts(d: SLODoc, inp: V1Input, w: _Where) -> tuple[BurnAlert, ...] | None:
    if not d.spec.alertPolicies:
        return None
    out: list[BurnAlert] = []
    for i, entry in enumerate(d.spec.alertPolicies):
        at = f"spec.alertPolicies.{i}"
        if entry.alertPolicyRef is not None:
            found = inp.get("AlertPolicy", entry.alertPolicyRef)
            if found is None:
                w.add_unless_broken(
                    inp,
                    ("AlertPolicy", entry.alertPolicyRef),
                    f"{at}.alertPolicyRef",
                    f"no AlertPolicy named {entry.alertPolicyRef!r}; expected the name of a kind: "
                    "AlertPolicy document in the same input",
                )
                continue
            policy_name, policy = found[0].metadata.name, found[0].spec
        else:
            assert entry.metadata is not None and entry.spec is not None
            policy_name, policy = entry.metadata.name, entry.spec
        targets: list[str] = []
        for j, t in enumerate(policy.notificationTargets):
            if t.targetRef is not None and inp.get("AlertNotificationTarget", t.targetRef) is None:
                w.add_unless_broken(
                    inp,
                    ("AlertNotificationTarget", t.targetRef),
                    f"{at}.notificationTargets.{j}.targetRef",
                    f"no AlertNotificationTarget named {t.targetRef!r}; expected the name of a kind: "
                    "AlertNotificationTarget document in the same input",
                )
            if t.targetRef is not None:
                targets.append(t.targetRef)
            elif t.metadata is not None:
                targets.append(t.metadata.name)
        for j, c in enumerate(policy.conditions):
            if c.conditionRef is not None:
                cfound = inp.get("AlertCondition", c.conditionRef)
                if cfound is None:
                    w.add_unless_broken(
                        inp,
                        ("AlertCondition", c.conditionRef),
                        f"{at}.conditions.{j}.conditionRef",
                        f"no AlertCondition named {c.conditionRef!r} (policy {policy_name}); expected the "
                        "name of a kind: AlertCondition document in the same input",
                    )
                    continue
                cname, cspec = cfound[0].metadata.name, cfound[0].spec
            else:
                assert c.metadata is not None and c.spec is not None
                cname, cspec = c.metadata.name, c.spec
            cond = cspec.condition
            out.append(
                BurnAlert(
                    name=conventions.alert_condition_name(cname),
                    condition=cname,
                    policy=policy_name,
                    severity=cspec.severity,
                    threshold=Decimal(str(cond.threshold)),
                    lookback=cond.lookbackWindow,
                    alert_after=cond.alertAfter,
                    description=cspec.description or policy.description,
                    targets=tuple(targets),
                    breaching=policy.alertWhenBreaching,
                    no_data=policy.alertWhenNoData,
                )
            )
    return tuple(out)


def _slo_to_slos(d: SLODoc, file: str, index: int, inp: V1Input, problems: list[Problem]) -> list[SLO]:
    w = _Where(file, f"SLO {d.metadata.name}", problems)
    before = len(problems)
    if d.spec.indicator is not None:
        sli, where = d.spec.indicator.spec, "spec.indicator.spec"
    else:
        assert d.spec.indicatorRef is not None
        found = inp.get("SLI", d.spec.indicatorRef)
        if found is None:
            w.add_unless_broken(
                inp,
                ("SLI", d.spec.indicatorRef),
                "spec.indicatorRef",
                f"no SLI named {d.spec.indicatorRef!r}; expected the name of a kind: SLI document in the "
                "same input",
            )
            return []
        sli, where = found[0].spec, f"SLI {found[0].metadata.name} ({found[1]}) spec"
    period = _period(d, w)
    alerts = _alerts(d, inp, w)
    method = d.spec.budgetingMethod
    # The SLI's queries.
    error = total = ratio = None
    threshold_query = None
    fields: dict[str, str] = {}
    raw_queries: dict[str, str] = {}
    optional: set[str] = set()
    if sli.ratioMetric is not None:
        rm = sli.ratioMetric
        queries = {}
        for kind in ("good", "bad", "total", "raw"):
            holder = getattr(rm, kind)
            if holder is not None:
                at = f"{where}.ratioMetric.{kind}"
                q = _prometheus_query(holder, at, inp, w)
                if q is not None:
                    queries[kind] = q
                    raw_queries[f"{at}.metricSource.spec.query"] = q
        if rm.raw is not None and "raw" in queries:
            r = queries["raw"].strip()
            ratio = r if rm.rawType == "failure" else f"1 - ({r})"
            fields["ratio"] = f"{where}.ratioMetric.raw.metricSource.spec.query"
        elif "total" in queries and ("good" in queries or "bad" in queries):
            total = queries["total"].strip()
            kind = "bad" if "bad" in queries else "good"
            error = queries["bad"].strip() if kind == "bad" else errors_from_good(queries["good"], total)
            fields["error"] = f"{where}.ratioMetric.{kind}.metricSource.spec.query"
            fields["total"] = f"{where}.ratioMetric.total.metricSource.spec.query"
    else:
        assert sli.thresholdMetric is not None
        at = f"{where}.thresholdMetric"
        q = _prometheus_query(sli.thresholdMetric, at, inp, w)
        if q is not None:
            threshold_query = q.strip()
            fields["threshold"] = f"{at}.metricSource.spec.query"
            raw_queries[fields["threshold"]] = q
            optional.add(fields["threshold"])
    count = len(d.spec.objectives)
    specs: list[tuple[str, Objective, Slices | None, Threshold | None]] = []
    for i, o in enumerate(d.spec.objectives):
        at = f"spec.objectives.{i}"
        for composite in ("indicator", "indicatorRef", "compositeWeight"):
            if getattr(o, composite) is not None:
                w.add(
                    f"{at}.{composite}",
                    "not supported: a composite SLO (an indicator per objective); expected the SLO's "
                    "indicator or indicatorRef",
                )
        window = _slice_window(o, at, w)
        slices: Slices | None = None
        if method in ("Timeslices", "RatioTimeslices"):
            if window is None and o.timeSliceWindow is None:
                w.add(
                    f"{at}.timeSliceWindow",
                    f"missing; expected the time slice's length with {method}, e.g. 1m",
                )
            if method == "Timeslices" and o.timeSliceTarget is None:
                w.add(
                    f"{at}.timeSliceTarget",
                    "missing; expected the good ratio (0..1] a time slice must reach to be good "
                    "with Timeslices",
                )
            target = Decimal(str(o.timeSliceTarget)) if o.timeSliceTarget is not None else None
            if target is not None and not (0 < target <= 1):
                w.add(
                    f"{at}.timeSliceTarget",
                    f"got {clean(target)}; expected a ratio greater than 0, at most 1",
                )
            slices = Slices(method, window, target if method == "Timeslices" else None)
        elif threshold_query is not None:
            slices = Slices("Occurrences")
        thr: Threshold | None = None
        if sli.thresholdMetric is not None:
            if o.op is None or o.value is None:
                w.add(
                    f"{at}.{'op' if o.op is None else 'value'}",
                    "missing; expected op (lt, lte, gt, gte) and value: a thresholdMetric's good samples "
                    "are those where `query op value` holds",
                )
            elif threshold_query is not None:
                thr = Threshold(threshold_query, _OPS[o.op], Decimal(str(o.value)))
        specs.append((conventions.objective_slo_name(d.metadata.name, i, count), o, slices, thr))
    if len(problems) > before:
        return []
    out = []
    document = Document(source=file, index=index, spec=OPENSLO_SPEC, name=d.metadata.name)
    for name, o, slices, thr in specs:
        percent = (
            Decimal(str(o.target)) * 100 if o.target is not None else Decimal(str(o.targetPercent))
        ).normalize()
        out.append(
            SLO(
                source=file,
                spec=OPENSLO_SPEC,
                service=d.spec.service,
                name=name,
                objective=percent,
                description=d.spec.description or o.displayName or d.metadata.displayName,
                labels=_labels(d.metadata),
                error_query=error,
                total_query=total,
                error_ratio_query=ratio,
                alert_name=conventions.openslo_alert_name(d.spec.service, name),
                alert_labels={},
                alert_annotations={},
                page=AlertTier(labels={"severity": "critical"}),
                ticket=AlertTier(labels={"severity": "warning"}),
                period=period,
                fields=fields,
                raw_queries=raw_queries,
                document=document,
                threshold=thr,
                slices=slices,
                burn_alerts=alerts,
                optional_window=frozenset(optional),
            )
        )
    return out


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
