"""SLO recording rules and multi-window multi-burn-rate alerts, Sloth-compatible.

Per SLO, as Sloth: 8 SLI recordings (7 alert windows + the period), 7 metadata recordings and
2 alerts (page, ticket), with Sloth's metric names and labels so Sloth's Grafana dashboards work.
Where we differ from Sloth, and why:
- the period window is computed from the raw counters over the whole period (increase-based), not
  averaged from 5m ratios, which under-counts errors when traffic is uneven;
- zero traffic records an error ratio of 0 instead of NaN (0/0), and a missing error series (no
  5xx ever seen) counts as 0 errors instead of making the ratio vanish;
- one shared SLIAbsent alert fires when an SLO's SLI has no series at all;
- thresholds are computed and printed as exact decimals (0.0072, not 14.4 * 0.0009999...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from obsctl.generate import conventions as c
from obsctl.generate.rules import windows
from obsctl.generate.slo.model import SLO, AlertTier
from obsctl.generate.slo.numbers import clean
from obsctl.generate.sources.slo_policy import SLOOverride, TierDefaults

VERSION = "obsctl-0.1"
ABSENT_ALERT = "SLIAbsent"
DEFAULT_SEVERITY = {"page": "critical", "ticket": "warning"}


@dataclass(frozen=True)
class Options:
    period: str = "30d"
    extra_labels: dict[str, str] = field(default_factory=dict)
    disable_alerts: bool = False
    disable_recordings: bool = False
    page: TierDefaults = field(default_factory=TierDefaults)
    ticket: TierDefaults = field(default_factory=TierDefaults)
    # Requests per second over a pair's long window below which that pair stays quiet (0: off).
    min_request_rate: float = 0
    absent_for: str = "10m"
    runbook_base_url: str = "docs/runbooks.md"
    # service -> owning team, for SLOs whose spec does not carry a team label
    teams: dict[str, str] = field(default_factory=dict)
    # sloth_id -> exceptions to the tier defaults and the traffic guard
    overrides: dict[str, SLOOverride] = field(default_factory=dict)

    def tier_defaults(self, slo: SLO, tier: str) -> TierDefaults:
        override = self.overrides.get(slo.id)
        chosen = getattr(override, tier) if override else None
        return chosen if chosen is not None else getattr(self, tier)

    def min_rate(self, slo: SLO) -> float:
        override = self.overrides.get(slo.id)
        if override is not None and override.min_request_rate is not None:
            return override.min_request_rate
        return self.min_request_rate


def period_of(slo: SLO, opts: Options) -> str:
    return slo.period or opts.period


def runbook_url(base: str, alert: str) -> str:
    return f"{base}#{alert.lower()}"


def label_value(label: str) -> str:
    """An alert annotation's reference to a label of the alert (Prometheus' template language)."""
    return "{{ $labels." + label + " }}"


def _selector(slo: SLO) -> str:
    return f'{c.LABEL_ID}="{slo.id}", {c.LABEL_SERVICE}="{slo.service}", {c.LABEL_SLO}="{slo.name}"'


def slo_labels(slo: SLO, opts: Options) -> dict[str, str]:
    labels = dict(slo.labels)
    if "team" not in labels and slo.service in opts.teams:
        labels["team"] = opts.teams[slo.service]
    labels.update(opts.extra_labels)
    labels.update({c.LABEL_ID: slo.id, c.LABEL_SERVICE: slo.service, c.LABEL_SLO: slo.name})
    return dict(sorted(labels.items()))


def _indent(text: str, by: str = "  ") -> str:
    return "\n".join(by + line for line in text.splitlines())


def sli_expr(slo: SLO, window: str) -> str:
    if slo.total_query is None:
        # Raw error ratio: drop NaN (0/0) samples instead of recording them.
        return f"({slo.query('ratio', window)}) >= 0\n"
    err, tot = slo.query("error", window), slo.query("total", window)
    # `>= 0` drops the NaN of 0/0 (zero traffic); `or total * 0` then records 0, also when the
    # error series does not exist yet (no failure ever counted), instead of no ratio at all.
    return f"(\n  ({err})\n  /\n  ({tot})\n) >= 0\nor\n({tot}) * 0\n"


def _record(name: str, expr: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"record": name, "expr": expr, "labels": dict(sorted(labels.items()))}


def sli_rules(slo: SLO, opts: Options) -> list[dict[str, Any]]:
    labels = slo_labels(slo, opts)
    period = period_of(slo, opts)
    rules = [
        _record(c.sli_error_record(w), sli_expr(slo, w), {**labels, c.LABEL_WINDOW: w})
        for w in windows.SLI_WINDOWS
    ]
    if slo.total_query is None:
        # Without counters the period can only be a time-average of the 5m ratios (Sloth's way).
        period_expr = f"avg_over_time({c.sli_error_record('5m')}{{{_selector(slo)}}}[{period}])\n"
    else:
        period_expr = sli_expr(slo, period)
    rules.append(_record(c.sli_error_record(period), period_expr, {**labels, c.LABEL_WINDOW: period}))
    return rules


def meta_rules(slo: SLO, opts: Options) -> list[dict[str, Any]]:
    labels = slo_labels(slo, opts)
    sel = _selector(slo)
    period = period_of(slo, opts)
    days = clean(windows.PERIOD_HOURS[period] // 24)
    on = f"on ({', '.join(c.IDENTITY)}) group_left"
    info = {
        **labels,
        c.LABEL_MODE: c.MODE,
        c.LABEL_OBJECTIVE: clean(slo.objective),
        c.LABEL_SPEC: slo.spec,
        c.LABEL_VERSION: VERSION,
    }
    budget = f"{c.ERROR_BUDGET}{{{sel}}}"
    return [
        _record(c.OBJECTIVE, f"vector({clean(slo.objective_ratio)})", labels),
        _record(c.ERROR_BUDGET, f"vector({clean(slo.error_budget)})", labels),
        _record(c.TIME_PERIOD_DAYS, f"vector({days})", labels),
        _record(c.CURRENT_BURN_RATE, f"{c.sli_error_record('5m')}{{{sel}}}\n/ {on}\n{budget}\n", labels),
        _record(c.PERIOD_BURN_RATE, f"{c.sli_error_record(period)}{{{sel}}}\n/ {on}\n{budget}\n", labels),
        _record(c.PERIOD_ERROR_BUDGET_REMAINING, f"1 - {c.PERIOD_BURN_RATE}{{{sel}}}", labels),
        _record(c.INFO, "vector(1)", info),
    ]


def _tier_enabled(tier: AlertTier, default: TierDefaults) -> bool:
    return default.enabled if tier.enabled is None else tier.enabled


def _above(sel: str, window: str, threshold: str) -> str:
    """The SLO's error ratio over `window` exceeds `threshold` (one series whatever its window label)."""
    return f"max without ({c.LABEL_WINDOW}) ({c.sli_error_record(window)}{{{sel}}} > {threshold})"


def tier_alert(slo: SLO, tier_name: str, opts: Options) -> dict[str, Any] | None:
    tier: AlertTier = getattr(slo, tier_name)
    default = opts.tier_defaults(slo, tier_name)
    if not _tier_enabled(tier, default):
        return None
    period = period_of(slo, opts)
    sel = _selector(slo)
    budget = slo.error_budget
    parts = []
    explained = []
    for pair in windows.pairs(period):
        if pair.tier != tier_name:
            continue
        factor = pair.factor(period)
        threshold = clean(factor * budget)
        cond = f"{_above(sel, pair.short, threshold)}\nand\n{_above(sel, pair.long, threshold)}"
        guard = default.reset_window
        if guard and windows.WINDOW_HOURS[guard] < windows.WINDOW_HOURS[pair.short]:
            cond += f"\nand\n{_above(sel, guard, threshold)}"
            explained_guard = f", still burning over {guard}"
        else:
            explained_guard = ""
        if opts.min_rate(slo) > 0 and slo.total_query is not None:
            cond += f"\nand on ()\n(({slo.query('total', pair.long)}) >= {clean(opts.min_rate(slo))})"
        parts.append(f"(\n{_indent(cond)}\n)")
        explained.append(f"{clean(factor)}x over {pair.long} and {pair.short}{explained_guard}")
    labels = {**opts.extra_labels, **slo.alert_labels, **tier.labels, c.LABEL_SEVERITY: tier_name}
    labels.setdefault("severity", DEFAULT_SEVERITY[tier_name])
    summary = (
        tier.annotations.get("summary")
        or slo.alert_annotations.get("summary")
        or f"The {slo.name} SLO of {slo.service} is burning its error budget too fast."
    )
    annotations = {
        "summary": summary,
        "description": (
            f"{label_value(c.LABEL_SERVICE)}/{label_value(c.LABEL_SLO)}: "
            "error ratio {{ $value | humanizePercentage }} "
            f"over the short window against a budget of {clean(budget * 100)}% for {period} "
            f"({tier_name}: {' or '.join(explained)})."
        ),
        "runbook_url": runbook_url(opts.runbook_base_url, slo.alert_name),
        **{k: v for k, v in slo.alert_annotations.items() if k not in ("summary",)},
        **{k: v for k, v in tier.annotations.items() if k not in ("summary",)},
    }
    rule: dict[str, Any] = {"alert": slo.alert_name, "expr": "\nor\n".join(parts) + "\n"}
    for_ = tier.for_ or default.for_
    if for_ not in ("0s", "0m", "0"):
        rule["for"] = for_
    rule["labels"] = dict(sorted(labels.items()))
    rule["annotations"] = annotations
    return rule


def absent_alert(opts: Options) -> dict[str, Any]:
    """One alert for every SLO: its objective series exists but its 5m SLI does not.

    The 5m SLI exists whenever the total query returns a series (0 under zero traffic), so this
    fires only when the SLI's own series are gone (service not scraped, metric renamed).
    """
    return {
        "alert": ABSENT_ALERT,
        "expr": f"{c.OBJECTIVE} unless on ({c.LABEL_ID}) {c.sli_error_record('5m')}\n",
        "for": opts.absent_for,
        "labels": dict(sorted({**opts.extra_labels, "severity": "warning"}.items())),
        "annotations": {
            "summary": "An SLO has no SLI data: its error ratio cannot be computed.",
            "description": (
                f"SLO {label_value(c.LABEL_ID)} (team {label_value('team')}) has had no 5m SLI series for "
                f"{opts.absent_for}: its total-events query returns nothing. "
                "Burn-rate alerts for it cannot fire."
            ),
            "runbook_url": runbook_url(opts.runbook_base_url, ABSENT_ALERT),
        },
    }


def groups(slos: list[SLO], opts: Options, include_absent: bool = True) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for slo in slos:
        if not opts.disable_recordings:
            out.append({"name": c.sli_recordings_group(slo.id), "rules": sli_rules(slo, opts)})
            out.append({"name": c.meta_recordings_group(slo.id), "rules": meta_rules(slo, opts)})
        if not opts.disable_alerts:
            alerts = [a for t in ("page", "ticket") if (a := tier_alert(slo, t, opts)) is not None]
            if alerts:
                out.append({"name": c.alerts_group(slo.id), "rules": alerts})
    if slos and include_absent and not opts.disable_alerts:
        out.append({"name": "slo-sli-absent", "rules": [absent_alert(opts)]})
    return out
