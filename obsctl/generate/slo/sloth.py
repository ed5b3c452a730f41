"""Readers for Sloth's spec formats, unchanged (a drop-in for Sloth users): `prometheus/v1` and the
Kubernetes `PrometheusServiceLevel` (`sloth.slok.dev/v1`), which says the same in camelCase.

Field names and meaning follow Sloth's spec. Unknown fields are errors rather than silently
ignored, so a typo (`objetive:`) cannot turn an SLO off; the one exception is the other format's
spelling of the alert tiers (`pageAlert` in prometheus/v1, `page_alert` in a PrometheusServiceLevel),
which Sloth ignores and obsctl reads as meant, with a warning (`respell`). Label, annotation and name
values of any YAML scalar type are read as strings the way Sloth reads them (`tier: 2` is "2").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, model_validator

from obsctl.errors import Problem, StrictModel
from obsctl.generate.slo import plugins as chains
from obsctl.generate.slo.model import KUBERNETES_SPEC, SLO, SLOTH_SPEC, AlertTier, Document
from obsctl.generate.slo.numbers import yaml_string


class SlothModel(StrictModel):
    """A Sloth spec object: a key written without a value (`labels:`) means what leaving it out
    means, as in Sloth (Go's zero value)."""

    @model_validator(mode="before")
    @classmethod
    def _null_is_unset(cls, data: Any) -> Any:
        return {k: v for k, v in data.items() if v is not None} if isinstance(data, dict) else data


Str = Annotated[str, BeforeValidator(yaml_string)]
# Sloth's name rule (pkg/common/conventions): alphanumeric at both ends, then '.', '_' and '-'.
NAME = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
Name = Annotated[str, BeforeValidator(yaml_string), Field(pattern=NAME)]
Labels = dict[str, Str]


class Events(SlothModel):
    error_query: str
    total_query: str


class Raw(SlothModel):
    error_ratio_query: str


class K8sEvents(SlothModel):
    errorQuery: str
    totalQuery: str


class K8sRaw(SlothModel):
    errorRatioQuery: str


class SLIPlugin(SlothModel):
    id: Str
    options: dict[str, Str] = {}


class SLI(SlothModel):
    events: Events | None = None
    raw: Raw | None = None
    plugin: SLIPlugin | None = None


class K8sSLI(SlothModel):
    events: K8sEvents | None = None
    raw: K8sRaw | None = None
    plugin: SLIPlugin | None = None


class Tier(SlothModel):
    disable: bool = False
    labels: Labels = {}
    annotations: Labels = {}


class Alerting(SlothModel):
    name: Str = ""
    labels: Labels = {}
    annotations: Labels = {}
    page_alert: Tier = Tier()
    ticket_alert: Tier = Tier()


class K8sAlerting(SlothModel):
    name: Str = ""
    labels: Labels = {}
    annotations: Labels = {}
    page_alert: Tier = Field(Tier(), alias="pageAlert")
    ticket_alert: Tier = Field(Tier(), alias="ticketAlert")


class SlothSLO(SlothModel):
    name: Name
    objective: float
    description: Str = ""
    labels: Labels = {}
    plugins: chains.Chain = chains.Chain()
    sli: SLI
    alerting: Alerting = Alerting()


class Spec(SlothModel):
    version: Literal["prometheus/v1"]
    service: Name
    labels: Labels = {}
    slo_plugins: chains.Chain = chains.Chain()
    slos: list[SlothSLO] = Field(min_length=1)


class K8sSLO(SlothModel):
    name: Name
    objective: float
    description: Str = ""
    labels: Labels = {}
    plugins: chains.Chain | None = None
    sli: K8sSLI
    alerting: K8sAlerting = K8sAlerting()


class K8sSpec(SlothModel):
    service: Name
    labels: Labels = {}
    sloPlugins: chains.Chain | None = None
    slos: list[K8sSLO] = Field(min_length=1)


class ObjectMeta(SlothModel):
    """Kubernetes object metadata: the fields a PrometheusRule is named after are read; the rest
    (uid, resourceVersion, ... of an object read back from a cluster) are allowed and ignored."""

    model_config = {**SlothModel.model_config, "extra": "ignore"}
    name: str = ""
    namespace: str = ""
    labels: Labels = {}
    annotations: Labels = {}


class PrometheusServiceLevel(SlothModel):
    apiVersion: Literal["sloth.slok.dev/v1"]
    kind: Literal["PrometheusServiceLevel"]
    metadata: ObjectMeta = ObjectMeta()
    spec: K8sSpec
    status: Any = None  # written by Sloth's controller; not an input


def _tier(t: Tier) -> AlertTier:
    # Sloth can only switch a tier off; leaving it on means "the generation default".
    return AlertTier(enabled=False if t.disable else None, labels=t.labels, annotations=t.annotations)


def _slo(
    s: SlothSLO | K8sSLO,
    service: str,
    group_labels: dict[str, str],
    group_chain: chains.Chain | None,
    spec: str,
    document: Document,
    index: int,
    problems: list[Problem],
    camel: bool,
) -> SLO:
    source = document.source
    obj = f"SLO {s.name}"
    at = f"{'spec.' if camel else ''}slos.{index}"
    e_err, e_tot, r_ratio = (
        ("errorQuery", "totalQuery", "errorRatioQuery")
        if camel
        else ("error_query", "total_query", "error_ratio_query")
    )
    events = (getattr(s.sli.events, e_err), getattr(s.sli.events, e_tot)) if s.sli.events else None
    ratio = getattr(s.sli.raw, r_ratio) if s.sli.raw else None
    if s.sli.plugin is not None:
        problems.append(
            Problem(
                file=source,
                obj=obj,
                field=f"{at}.sli.plugin.id",
                message=f"SLI plugin {s.sli.plugin.id!r} is not supported: Sloth's SLI plugins are Go code "
                "it loads from --plugins-path, which obsctl cannot run; expected sli.events or sli.raw "
                "with the plugin's queries",
            )
        )
    group = group_chain or chains.Chain()
    own = s.plugins or chains.Chain()
    group_where = "spec.sloPlugins" if camel else "slo_plugins"
    refs = () if own.overridePrevious else chains.resolve(group.chain, group_where, source, obj, problems)
    refs += chains.resolve(own.chain, f"{at}.plugins", source, obj, problems)
    return SLO(
        source=source,
        spec=spec,
        service=service,
        name=s.name,
        objective=Decimal(str(s.objective)),
        description=s.description,
        labels={**group_labels, **s.labels},
        error_query=events[0] if events else None,
        total_query=events[1] if events else None,
        error_ratio_query=ratio,
        alert_name=s.alerting.name,
        alert_labels=s.alerting.labels,
        alert_annotations=s.alerting.annotations,
        page=_tier(s.alerting.page_alert),
        ticket=_tier(s.alerting.ticket_alert),
        fields={
            "error": f"{at}.sli.events.{e_err}",
            "total": f"{at}.sli.events.{e_tot}",
            "ratio": f"{at}.sli.raw.{r_ratio}",
        },
        raw_queries={
            **(
                {f"{at}.sli.events.{e_err}": events[0], f"{at}.sli.events.{e_tot}": events[1]}
                if events
                else {}
            ),
            **({f"{at}.sli.raw.{r_ratio}": ratio} if ratio is not None else {}),
        },
        plugins=refs,
        override_plugins=group.overridePrevious or own.overridePrevious,
        document=document,
        sli_plugin=s.sli.plugin.id if s.sli.plugin is not None else None,
    )


# The other format's spelling of the alert tiers: Sloth ignores it, obsctl reads it as meant.
_OTHER_SPELLING = {
    False: {"pageAlert": "page_alert", "ticketAlert": "ticket_alert"},
    True: {"page_alert": "pageAlert", "ticket_alert": "ticketAlert"},
}


def respell(raw: Any, source: str, kubernetes: bool, warnings: list[Problem]) -> Any:
    """`raw` (one parsed document) with the other format's tier spelling renamed to this format's,
    each rename a warning naming the SLO and the field."""
    spec = raw.get("spec") if kubernetes and isinstance(raw, dict) else raw
    slos = spec.get("slos") if isinstance(spec, dict) else None
    if not isinstance(slos, list):
        return raw
    for i, s in enumerate(slos):
        alerting = s.get("alerting") if isinstance(s, dict) else None
        if not isinstance(alerting, dict):
            continue
        for other, own in _OTHER_SPELLING[kubernetes].items():
            if other in alerting and own not in alerting:
                alerting[own] = alerting.pop(other)
                warnings.append(
                    Problem(
                        file=source,
                        obj=f"SLO {s.get('name')}",
                        field=f"{'spec.' if kubernetes else ''}slos.{i}.alerting.{other}",
                        message=f"got {other}, the "
                        f"{'prometheus/v1' if kubernetes else 'PrometheusServiceLevel'} "
                        f"spelling; expected {own}: Sloth ignores {other} here, obsctl reads it as {own}",
                    )
                )
    return raw


def to_slos(spec: Spec, source: str, index: int, problems: list[Problem]) -> list[SLO]:
    document = Document(source=source, index=index, spec=SLOTH_SPEC)
    out = []
    for i, s in enumerate(spec.slos):
        out.append(
            _slo(s, spec.service, spec.labels, spec.slo_plugins, SLOTH_SPEC, document, i, problems, False)
        )
    return out


def k8s_to_slos(doc: PrometheusServiceLevel, source: str, index: int, problems: list[Problem]) -> list[SLO]:
    meta = doc.metadata
    document = Document(
        source=source,
        index=index,
        spec=KUBERNETES_SPEC,
        name=meta.name or None,
        namespace=meta.namespace or None,
        labels=tuple(sorted(meta.labels.items())),
        annotations=tuple(sorted(meta.annotations.items())),
    )
    spec = doc.spec
    out = []
    for i, s in enumerate(spec.slos):
        out.append(
            _slo(s, spec.service, spec.labels, spec.sloPlugins, KUBERNETES_SPEC, document, i, problems, True)
        )
    return out
