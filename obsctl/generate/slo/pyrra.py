"""Reader for Pyrra's `ServiceLevelObjective` (apiVersion pyrra.dev/v1alpha1), the fields of
github.com/pyrra-dev/pyrra kubernetes/api/v1alpha1/servicelevelobjective_types.go.

Each indicator becomes an events SLI whose queries carry the `{{.window}}` placeholder, as
Sloth's do; Pyrra's metrics are selectors and Pyrra wraps them the same way:

- `ratio`: errors and total, `sum by (<grouping>) (rate(<metric>[{{.window}}]))`;
- `latency`: success (a classic histogram bucket, `le="..."`) and total; errors are total minus
  success, a missing success series counting as none;
- `latencyNative`: a native histogram and a latency; total is `histogram_count`, errors the count
  times `1 - histogram_fraction(0, <latency in seconds>, ...)`;
- `bool_gauge`: a 0/1 gauge; total is its samples over the window, errors its 0 samples.

`grouping` keeps those labels on every recording and alert (one SLI per group). The SLO is
named `metadata.name`, its service is `metadata.namespace` (else the name). Labels prefixed
`pyrra.dev/` go onto the rules without the prefix, as Pyrra does; other labels that are valid
Prometheus label names go as they are, the rest (Kubernetes' `app.kubernetes.io/...`) are left out.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import Field, model_validator

from obsctl.errors import Problem, StrictModel
from obsctl.generate import conventions
from obsctl.generate.durations import canonical, milliseconds
from obsctl.generate.slo.model import PYRRA_SPEC, SLO, AlertTier, Document
from obsctl.generate.slo.numbers import clean

API_VERSION = "pyrra.dev/v1alpha1"
KIND = "ServiceLevelObjective"
_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PREFIX = "pyrra.dev/"


class Metadata(StrictModel):
    """Kubernetes object metadata: name, namespace and labels are read; the rest (uid,
    resourceVersion, ... of an object read back from a cluster) is allowed and ignored."""

    model_config = {**StrictModel.model_config, "extra": "ignore"}
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    namespace: str | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class Query(StrictModel):
    metric: str = Field(min_length=1)


class Grouped(StrictModel):
    grouping: list[str] = []


class Ratio(Grouped):
    errors: Query
    total: Query


class Latency(Grouped):
    success: Query
    total: Query


class LatencyNative(Grouped):
    total: Query
    latency: str


class BoolGauge(Grouped):
    metric: str = Field(min_length=1)


class Indicator(StrictModel):
    ratio: Ratio | None = None
    latency: Latency | None = None
    latencyNative: LatencyNative | None = None
    bool_gauge: BoolGauge | None = None

    @model_validator(mode="after")
    def _one(self) -> Indicator:
        given = [
            k for k in ("ratio", "latency", "latencyNative", "bool_gauge") if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                f"got {' and '.join(given) or 'none'}; expected exactly one of ratio, latency, "
                "latencyNative or bool_gauge"
            )
        return self


class Alerting(StrictModel):
    disabled: bool | None = None
    burnrates: bool | None = None
    absent: bool | None = None
    name: str = ""
    absentName: str = ""


class Spec(StrictModel):
    description: str = ""
    target: str | float
    window: str
    indicator: Indicator
    alerting: Alerting = Alerting()
    partial_response_strategy: Literal["abort", "warn", ""] | None = None


class ServiceLevelObjective(StrictModel):
    apiVersion: Literal["pyrra.dev/v1alpha1"]
    kind: Literal["ServiceLevelObjective"]
    metadata: Metadata
    spec: Spec
    status: dict[str, Any] | None = None


def _sum(grouping: list[str], inner: str) -> str:
    return f"sum by ({', '.join(grouping)}) ({inner})" if grouping else f"sum({inner})"


def _rate(grouping: list[str], metric: str) -> str:
    return _sum(grouping, f"rate({metric.strip()}[{{{{.window}}}}])")


def _labels(meta: Metadata) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in sorted(meta.labels.items()):
        name = key.removeprefix(_PREFIX)
        if _LABEL.match(name):
            out[name] = value
    return out


def to_slos(doc: ServiceLevelObjective, file: str, index: int, problems: list[Problem]) -> list[SLO]:
    obj = f"ServiceLevelObjective {doc.metadata.name}"
    before = len(problems)
    spec = doc.spec
    try:
        objective = Decimal(str(spec.target).strip()).normalize()
    except InvalidOperation:
        problems.append(
            Problem(
                file=file,
                obj=obj,
                field="spec.target",
                message=f'got {spec.target!r}; expected a percentage such as "99.5"',
            )
        )
        objective = Decimal(0)
    try:
        period = canonical(spec.window)
    except ValueError as exc:
        problems.append(Problem(file=file, obj=obj, field="spec.window", message=str(exc)))
        period = None
    ind = spec.indicator
    at = "spec.indicator"
    if ind.ratio is not None:
        g = ind.ratio.grouping
        error, total = _rate(g, ind.ratio.errors.metric), _rate(g, ind.ratio.total.metric)
        fields = {"error": f"{at}.ratio.errors.metric", "total": f"{at}.ratio.total.metric"}
    elif ind.latency is not None:
        g = ind.latency.grouping
        total = _rate(g, ind.latency.total.metric)
        good = _rate(g, ind.latency.success.metric)
        error = f"({total}) - (({good}) or ({total}) * 0)"
        fields = {"error": f"{at}.latency.success.metric", "total": f"{at}.latency.total.metric"}
    elif ind.latencyNative is not None:
        g = ind.latencyNative.grouping
        histogram = _rate(g, ind.latencyNative.total.metric)
        try:
            seconds = clean(Decimal(milliseconds(ind.latencyNative.latency)) / 1000)
        except ValueError as exc:
            problems.append(
                Problem(file=file, obj=obj, field=f"{at}.latencyNative.latency", message=str(exc))
            )
            seconds = "0"
        total = f"histogram_count({histogram})"
        error = f"histogram_count({histogram}) * (1 - histogram_fraction(0, {seconds}, {histogram}))"
        fields = {"error": f"{at}.latencyNative.latency", "total": f"{at}.latencyNative.total.metric"}
    else:
        assert ind.bool_gauge is not None
        g = ind.bool_gauge.grouping
        m = ind.bool_gauge.metric.strip()
        total = _sum(g, f"count_over_time({m}[{{{{.window}}}}])")
        error = f"{total} - {_sum(g, f'sum_over_time({m}[{{{{.window}}}}])')}"
        fields = {"error": f"{at}.bool_gauge.metric", "total": f"{at}.bool_gauge.metric"}
    if len(problems) > before:
        return []
    alerting = spec.alerting
    burn = not alerting.disabled and alerting.burnrates is not False
    service = doc.metadata.namespace or doc.metadata.name
    return [
        SLO(
            source=file,
            spec=PYRRA_SPEC,
            service=service,
            name=doc.metadata.name,
            objective=objective,
            description=spec.description,
            labels=_labels(doc.metadata),
            error_query=error,
            total_query=total,
            error_ratio_query=None,
            alert_name=alerting.name or conventions.PYRRA_ALERT,
            alert_labels={},
            alert_annotations={},
            page=AlertTier(enabled=burn, labels={"severity": "critical"}),
            ticket=AlertTier(enabled=burn, labels={"severity": "warning"}),
            period=period,
            fields=fields,
            # (a bool gauge's two queries come from one field: its error query holds the total's)
            raw_queries={fields["total"]: total, fields["error"]: error},
            document=Document(
                source=file,
                index=index,
                spec=PYRRA_SPEC,
                name=doc.metadata.name,
                namespace=doc.metadata.namespace,
                labels=tuple(sorted(doc.metadata.labels.items())),
            ),
        )
    ]
