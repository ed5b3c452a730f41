"""The internal SLO model every reader produces and every generator consumes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any

from obsctl.errors import ObsctlError, Problem
from obsctl.generate import conventions, promql

WINDOW_PLACEHOLDER = re.compile(r"\{\{\s*\.window\s*\}\}")

# A latency SLI counts requests slower than a histogram bucket boundary: le="<seconds>".
LE_BUCKET = re.compile(r'\ble="([0-9]*\.?[0-9]+)"')

# The SLI spec formats we read, written into sloth_slo_info{sloth_spec=...}.
SLOTH_SPEC = conventions.SPEC_PROMETHEUS
KUBERNETES_SPEC = conventions.SPEC_KUBERNETES
OPENSLO_ALPHA_SPEC = conventions.SPEC_OPENSLO_ALPHA
OPENSLO_SPEC = conventions.SPEC_OPENSLO
PYRRA_SPEC = conventions.SPEC_PYRRA
# The formats Sloth reads: their SLOs get Sloth's defaults where the spec says nothing.
SLOTH_FORMATS = (SLOTH_SPEC, KUBERNETES_SPEC, OPENSLO_ALPHA_SPEC)


@dataclass(frozen=True)
class PluginRef:
    """One SLO plugin of a spec's chain (Sloth's `slo_plugins`/`plugins`), its configuration validated."""

    id: str
    priority: int
    config: Any  # the plugin's configuration model (obsctl.generate.slo.plugins)
    where: str  # the field it was declared at, for messages


@dataclass(frozen=True)
class Document:
    """The spec document an SLO came from: what a Kubernetes PrometheusRule written for it is named
    after (Sloth writes one per PrometheusServiceLevel, with its metadata)."""

    source: str
    index: int  # of the document in its file
    spec: str
    name: str | None = None
    namespace: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AlertTier:
    """One tier of the burn-rate alert (page or ticket) as the spec asks for it.

    `enabled`/`for_` of None mean "not said by the spec": the generation defaults decide.
    """

    enabled: bool | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    for_: str | None = None


@dataclass(frozen=True)
class Threshold:
    """An OpenSLO thresholdMetric: an instant gauge query compared with a value (`op` is PromQL's
    comparison: <, <=, >, >=); a sample is good when the comparison holds."""

    query: str
    op: str
    value: Decimal


@dataclass(frozen=True)
class Slices:
    """How a sampled SLI is budgeted (OpenSLO's budgetingMethod): `Occurrences` (a threshold SLI
    only: each evaluation is one event), `Timeslices` (the share of time slices of `window` whose
    good ratio meets `target`) or `RatioTimeslices` (the average of the slices' ratios)."""

    method: str
    window: str | None = None
    target: Decimal | None = None


@dataclass(frozen=True)
class BurnAlert:
    """One OpenSLO AlertCondition of kind burnrate, as one of the SLO's alert policies uses it:
    fires when the burn rate over `lookback` has been above `threshold` for `alert_after`."""

    name: str  # the alert's name
    condition: str  # the AlertCondition's metadata.name
    policy: str  # the AlertPolicy's metadata.name
    severity: str
    threshold: Decimal
    lookback: str
    alert_after: str  # canonical; "0s": at once
    description: str = ""
    targets: tuple[str, ...] = ()  # AlertNotificationTarget names
    breaching: bool = True  # alertWhenBreaching
    no_data: bool = False  # alertWhenNoData


@dataclass(frozen=True)
class SLO:
    source: str  # the file it came from, for error messages
    spec: str  # the format it was read from: SLOTH_SPEC, KUBERNETES_SPEC, OPENSLO_*, PYRRA_SPEC
    service: str
    name: str
    objective: Decimal  # percent, 0 < objective < 100
    description: str
    labels: dict[str, str]
    # Either events (error + total) or a raw error ratio; queries keep the {{.window}} placeholder.
    error_query: str | None
    total_query: str | None
    error_ratio_query: str | None
    alert_name: str
    alert_labels: dict[str, str]
    alert_annotations: dict[str, str]
    page: AlertTier
    ticket: AlertTier
    period: str | None = None  # None: the generation default
    # Where each query lives in the spec ({"error": "sli.events.error_query", ...}), for messages.
    fields: dict[str, str] = field(default_factory=dict)
    # Every query as written in the spec, by its field path: each must carry {{.window}} and parse.
    raw_queries: dict[str, str] = field(default_factory=dict)
    # Sloth's SLO plugins declared by the spec (group level, then SLO level) and whether they
    # replace the default chain (`overridePrevious`).
    plugins: tuple[PluginRef, ...] = ()
    override_plugins: bool = False
    document: Document | None = None
    sli_plugin: str | None = None  # a Sloth SLI plugin's id (refused: Go code obsctl cannot run)
    # A threshold SLI (OpenSLO thresholdMetric) instead of events or a raw ratio.
    threshold: Threshold | None = None
    # Time-slice (or per-evaluation) budgeting; None: occurrences of events, as Sloth's.
    slices: Slices | None = None
    # OpenSLO alert policies' burn-rate conditions; None: the default page and ticket tiers.
    burn_alerts: tuple[BurnAlert, ...] | None = None
    # Queries whose {{.window}} placeholder is optional (a threshold gauge's).
    optional_window: frozenset[str] = frozenset()

    @property
    def id(self) -> str:
        return f"{self.service}-{self.name}"

    @property
    def error_budget(self) -> Decimal:
        """Allowed error ratio, e.g. 0.0005 for 99.95 (exact: Decimal, not float)."""
        return (Decimal(100) - self.objective) / Decimal(100)

    @property
    def objective_ratio(self) -> Decimal:
        return self.objective / Decimal(100)

    @property
    def latency_threshold_seconds(self) -> Decimal | None:
        """The latency a good event stays within: the one `le` bucket its error query counts
        against (0.2 for le="0.2"); None for an SLI without one (availability, freshness by ratio).
        Two different buckets in one SLI are an error: which one is the threshold is unclear."""
        if self.threshold is not None:
            return None
        which = "error" if self.error_query is not None else "ratio"
        query = self.error_query if self.error_query is not None else self.error_ratio_query
        buckets = sorted(set(LE_BUCKET.findall(query or "")), key=Decimal)
        if not buckets:
            return None
        if len(buckets) > 1:
            raise ObsctlError(
                [
                    Problem(
                        file=self.source,
                        obj=f"SLO {self.id}",
                        field=self.fields.get(which),
                        message=f"got buckets {', '.join(buckets)}; "
                        "expected one le bucket, the latency threshold",
                    )
                ]
            )
        return Decimal(buckets[0])

    def query(self, which: str, window: str) -> str:
        """The query `which` (error, total, ratio, or `events`: the total without a filter against a
        number, e.g. Sloth users' `> 0` guard against 0/0) over `window`."""
        template = {
            "error": self.error_query,
            "total": self.total_query,
            "events": _unfiltered(self.total_query) if self.total_query is not None else None,
            "ratio": self.error_ratio_query,
            "threshold": self.threshold.query if self.threshold is not None else None,
        }[which]
        if template is None:
            raise ValueError(f"{self.id} has no {which} query")
        return WINDOW_PLACEHOLDER.sub(window, template.strip())


@lru_cache(maxsize=4096)
def _unfiltered(template: str) -> str:
    try:
        tree = promql.parse(WINDOW_PLACEHOLDER.sub("5m", template))
    except promql.PromQLError:
        return template
    return promql.without_number_filter(template.strip(), tree)
