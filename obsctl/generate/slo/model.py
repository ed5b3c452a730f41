"""The internal SLO model every reader produces and every generator consumes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from obsctl.errors import ObsctlError, Problem

WINDOW_PLACEHOLDER = re.compile(r"\{\{\s*\.window\s*\}\}")

# A latency SLI counts requests slower than a histogram bucket boundary: le="<seconds>".
LE_BUCKET = re.compile(r'\ble="([0-9]*\.?[0-9]+)"')

# The SLI spec formats we read, written into sloth_slo_info{sloth_spec=...}.
SLOTH_SPEC = "prometheus/v1"
OPENSLO_SPEC = "openslo/v1"


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
class SLO:
    source: str  # the file it came from, for error messages
    spec: str  # SLOTH_SPEC or OPENSLO_SPEC
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
        template = {"error": self.error_query, "total": self.total_query, "ratio": self.error_ratio_query}[
            which
        ]
        if template is None:
            raise ValueError(f"{self.id} has no {which} query")
        return WINDOW_PLACEHOLDER.sub(window, template.strip())
