"""SLO recording rules and multi-window multi-burn-rate alerts, Sloth-compatible.

Per SLO, as Sloth: one SLI recording per alert window and one over the period, 7 metadata
recordings and 2 alerts (page, ticket), with Sloth's metric names, labels and annotations (`title`,
`summary`) so Sloth's Grafana dashboards and alert templates work. Each SLO runs Sloth's plugin
chain (obsctl.generate.slo.plugins; the effects in obsctl.generate.rules.slo_plugins), by default
Sloth's: SLI rules, metadata rules, alert rules.

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
from obsctl.generate.durations import days, milliseconds
from obsctl.generate.rules import windows
from obsctl.generate.slo import periods
from obsctl.generate.slo.model import SLO, SLOTH_FORMATS, AlertTier, BurnAlert, PluginRef
from obsctl.generate.slo.numbers import clean
from obsctl.generate.sources.slo_policy import SLOOverride, TierDefaults

VERSION = "obsctl-0.1"
ABSENT_ALERT = "SLIAbsent"
ABSENT_GROUP = "slo-sli-absent"
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
    # Where each alert's runbook_url points (<base>#<alert name>); None: no runbook_url.
    runbook_base_url: str | None = None
    # service -> owning team, for SLOs whose spec does not carry a team label
    teams: dict[str, str] = field(default_factory=dict)
    # sloth_id -> exceptions to the tier defaults and the traffic guard
    overrides: dict[str, SLOOverride] = field(default_factory=dict)
    # The alert windows of each SLO period (Sloth's AlertWindows catalog).
    windows: windows.Catalog = windows.DEFAULT
    # SLO plugins every SLO runs (Sloth's --slo-plugins), and whether Sloth's default chain is off.
    plugins: tuple[PluginRef, ...] = ()
    disable_default_plugins: bool = False

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


def windows_of(slo: SLO, opts: Options) -> windows.AlertWindows:
    """The SLO's alert windows: its period's in the catalog, or derived for the built-in one
    (obsctl.generate.slo.periods: 14d, 90d, ...)."""
    period = period_of(slo, opts)
    found = periods.lookup(opts.windows, period)
    if found is None:
        return opts.windows.require(period, slo.source, f"SLO {slo.name}", "period")
    return found


def recorded_windows(slo: SLO, opts: Options) -> tuple[str, ...]:
    """The windows an SLO records its SLI over (besides its period): the alert windows' and the
    lookback windows of its alert policies' conditions, shortest first."""
    found = set(windows_of(slo, opts).windows)
    period = milliseconds(period_of(slo, opts))
    for b in slo.burn_alerts or ():
        if milliseconds(b.lookback) != period:
            found.add(b.lookback)
    return tuple(sorted(found, key=milliseconds))


def runbook_url(base: str, alert: str) -> str:
    return f"{base}#{alert.lower()}"


def label_value(label: str) -> str:
    """An alert annotation's reference to a label of the alert (Prometheus' template language)."""
    return "{{ $labels." + label + " }}"


def selector(slo: SLO) -> str:
    return f'{c.LABEL_ID}="{slo.id}", {c.LABEL_SERVICE}="{slo.service}", {c.LABEL_SLO}="{slo.name}"'


def identity(slo: SLO) -> dict[str, str]:
    return {c.LABEL_ID: slo.id, c.LABEL_SERVICE: slo.service, c.LABEL_SLO: slo.name}


def slo_labels(slo: SLO, opts: Options) -> dict[str, str]:
    labels = dict(slo.labels)
    if "team" not in labels and slo.service in opts.teams:
        labels["team"] = opts.teams[slo.service]
    labels.update(opts.extra_labels)
    labels.update(identity(slo))
    return dict(sorted(labels.items()))


def _indent(text: str, by: str = "  ") -> str:
    return "\n".join(by + line for line in text.splitlines())


def sli_expr(slo: SLO, window: str) -> str:
    if slo.slices is not None:
        return sampled_expr(slo, window)
    if slo.total_query is None:
        # Raw error ratio: drop NaN (0/0) samples instead of recording them.
        return f"({slo.query('ratio', window)}) >= 0\n"
    err, tot = slo.query("error", window), slo.query("total", window)
    # `>= 0` drops the NaN of 0/0 (zero traffic); `or events * 0` then records 0, also when the
    # error series does not exist yet (no failure ever counted), instead of no ratio at all. The
    # events are the total without a `> 0` guard, so a guarded total still reads 0 when quiet.
    return f"(\n  ({err})\n  /\n  ({tot})\n) >= 0\nor\n({slo.query('events', window)}) * 0\n"


def _ratio_expr(slo: SLO, window: str) -> str:
    """The SLO's error ratio over `window` from its events or raw ratio (no slices)."""
    if slo.total_query is None:
        return f"({slo.query('ratio', window)}) >= 0\n"
    err, tot = slo.query("error", window), slo.query("total", window)
    return f"(\n  ({err})\n  /\n  ({tot})\n) >= 0\nor\n({slo.query('events', window)}) * 0\n"


def slice_rule(slo: SLO, opts: Options) -> dict[str, Any] | None:
    """A sampled SLI's recording of the current time slice (or, for a threshold SLI budgeted by
    occurrences, of the current sample): whether it is good (TIMESLICE_GOOD, 1 or 0) or its error
    ratio (TIMESLICE_ERROR, RatioTimeslices). Every window's SLI averages it over the window.

    A threshold query's NaN (a quantile of no traffic) is no sample rather than a bad one."""
    s = slo.slices
    if s is None:
        return None
    labels = slo_labels(slo, opts)
    win = s.window
    if win is not None:
        labels[c.LABEL_WINDOW] = c.window_name(win)
    t = slo.threshold
    if t is not None:
        good = f"(({slo.query('threshold', win or '5m')}) >= -Inf) {t.op} bool {clean(t.value)}"
        if s.method == "Occurrences" or win is None:
            return record(c.TIMESLICE_GOOD, f"{good}\n", labels)
        inner = f"avg_over_time((\n  {good}\n)[{c.window_name(win)}:])"
        if s.method == "Timeslices":
            assert s.target is not None
            return record(c.TIMESLICE_GOOD, f"{inner}\n>= bool {clean(s.target)}\n", labels)
        return record(c.TIMESLICE_ERROR, f"1 - {inner}\n", labels)
    assert win is not None
    ratio = _ratio_expr(slo, win)
    if s.method == "Timeslices":
        assert s.target is not None
        return record(c.TIMESLICE_GOOD, f"(\n{_indent(ratio)}\n)\n<= bool {clean(1 - s.target)}\n", labels)
    return record(c.TIMESLICE_ERROR, ratio, labels)


def sampled_expr(slo: SLO, window: str) -> str:
    """A sampled SLI's error ratio over `window`: the share of bad slices (or samples), or the
    average of the slices' error ratios."""
    assert slo.slices is not None
    sel = selector(slo)
    good = slo.slices.method != "RatioTimeslices"
    name = c.TIMESLICE_GOOD if good else c.TIMESLICE_ERROR
    avg = f"avg_over_time({name}{{{sel}}}[{c.window_name(window)}])"
    return f"1 - {avg}\n" if good else f"{avg}\n"


def record(name: str, expr: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"record": name, "expr": expr, "labels": dict(sorted(labels.items()))}


def averaged_period(slo: SLO, opts: Options) -> str:
    """Sloth's period SLI from the current window's recordings: the average of their ratios."""
    short = c.sli_error_record(windows_of(slo, opts).current_window)
    return f"avg_over_time({short}{{{selector(slo)}}}[{c.window_name(period_of(slo, opts))}])\n"


def sli_rules(slo: SLO, opts: Options, exact_period: bool = False) -> list[dict[str, Any]]:
    """One SLI recording per alert window, then the period's: from the SLI's own queries, except a
    raw SLI's period (unless `exact_period`), which averages the current window's ratios."""
    labels = slo_labels(slo, opts)
    period = period_of(slo, opts)
    first = slice_rule(slo, opts)
    rules = [first] if first is not None else []
    rules.extend(
        record(c.sli_error_record(w), sli_expr(slo, w), {**labels, c.LABEL_WINDOW: c.window_name(w)})
        for w in recorded_windows(slo, opts)
    )
    if slo.total_query is None and slo.slices is None and not exact_period:
        period_expr = averaged_period(slo, opts)
    else:
        period_expr = sli_expr(slo, c.window_name(period))
    rules.append(
        record(c.sli_error_record(period), period_expr, {**labels, c.LABEL_WINDOW: c.window_name(period)})
    )
    return rules


def meta_rules(slo: SLO, opts: Options) -> list[dict[str, Any]]:
    labels = slo_labels(slo, opts)
    sel = selector(slo)
    period = period_of(slo, opts)
    on = f"on ({', '.join(c.IDENTITY)}) group_left"
    info = {
        **labels,
        c.LABEL_MODE: c.MODES.get(slo.spec, c.MODE),
        c.LABEL_OBJECTIVE: clean(slo.objective),
        c.LABEL_SPEC: slo.spec,
        c.LABEL_VERSION: VERSION,
    }
    budget = f"{c.ERROR_BUDGET}{{{sel}}}"
    current = c.sli_error_record(windows_of(slo, opts).current_window)
    return [
        record(c.OBJECTIVE, f"vector({clean(slo.objective_ratio)})", labels),
        record(c.ERROR_BUDGET, f"vector({clean(slo.error_budget)})", labels),
        record(c.TIME_PERIOD_DAYS, f"vector({clean(days(period))})", labels),
        record(c.CURRENT_BURN_RATE, f"{current}{{{sel}}}\n/ {on}\n{budget}\n", labels),
        record(c.PERIOD_BURN_RATE, f"{c.sli_error_record(period)}{{{sel}}}\n/ {on}\n{budget}\n", labels),
        record(c.PERIOD_ERROR_BUDGET_REMAINING, f"1 - {c.PERIOD_BURN_RATE}{{{sel}}}", labels),
        record(c.INFO, "vector(1)", info),
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
    sel = selector(slo)
    budget = slo.error_budget
    parts = []
    explained = []
    for pair in windows_of(slo, opts).pairs:
        if pair.tier != tier_name:
            continue
        factor = pair.factor(period)
        threshold = clean(factor * budget)
        cond = f"{_above(sel, pair.short, threshold)}\nand\n{_above(sel, pair.long, threshold)}"
        guard = default.reset_window
        if guard and milliseconds(guard) < milliseconds(pair.short):
            cond += f"\nand\n{_above(sel, guard, threshold)}"
            explained_guard = f", still burning over {guard}"
        else:
            explained_guard = ""
        if opts.min_rate(slo) > 0 and slo.total_query is not None:
            cond += f"\nand on ()\n(({slo.query('total', pair.long)}) >= {clean(opts.min_rate(slo))})"
        parts.append(f"(\n{_indent(cond)}\n)")
        explained.append(f"{clean(factor)}x over {pair.long} and {pair.short}{explained_guard}")
    # The SLO's identity labels are those of the series the alert selects; written on the rule
    # too, so that alerts of the same name on several SLOs are distinct rules (promtool's lint).
    labels = {
        **opts.extra_labels,
        **slo.alert_labels,
        **tier.labels,
        c.LABEL_SEVERITY: tier_name,
        **identity(slo),
    }
    labels.setdefault("severity", DEFAULT_SEVERITY[tier_name])
    # Sloth's summary for Sloth's formats; a sentence without templates for the others.
    default_summary = (
        c.ALERT_SUMMARY
        if slo.spec in SLOTH_FORMATS
        else f"The {slo.name} SLO of {slo.service} is burning its error budget too fast."
    )
    summary = tier.annotations.get("summary") or slo.alert_annotations.get("summary") or default_summary
    annotations = {
        "summary": summary,
        "title": c.ALERT_TITLE.format(tier=tier_name),
        "description": (
            f"{label_value(c.LABEL_SERVICE)}/{label_value(c.LABEL_SLO)}: "
            "error ratio {{ $value | humanizePercentage }} "
            f"over the short window against a budget of {clean(budget * 100)}% for {period} "
            f"({tier_name}: {' or '.join(explained)})."
        ),
        **(
            {"runbook_url": runbook_url(opts.runbook_base_url, slo.alert_name)}
            if opts.runbook_base_url
            else {}
        ),
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


def policy_alerts(slo: SLO, b: BurnAlert, opts: Options) -> list[dict[str, Any]]:
    """An OpenSLO burn-rate condition: the burn rate over its lookback window above its threshold
    for alertAfter (when the policy alerts when breaching), and when the policy alerts on no data,
    the SLI over the lookback window missing for as long."""
    sel = selector(slo)
    threshold = clean(b.threshold * slo.error_budget)
    labels = {
        **opts.extra_labels,
        "severity": b.severity,
        c.LABEL_ALERT_POLICY: b.policy,
        c.LABEL_ALERT_CONDITION: b.condition,
        **({c.LABEL_NOTIFICATION_TARGETS: ",".join(b.targets)} if b.targets else {}),
        **identity(slo),
    }
    after = {} if b.alert_after == "0s" else {"for": b.alert_after}
    runbook = {"runbook_url": runbook_url(opts.runbook_base_url, b.name)} if opts.runbook_base_url else {}
    out = []
    if b.breaching:
        out.append(
            {
                "alert": b.name,
                "expr": f"{_above(sel, b.lookback, threshold)}\n",
                **after,
                "labels": dict(sorted(labels.items())),
                "annotations": {
                    "summary": b.description
                    or f"The {slo.name} SLO of {slo.service} is burning its error budget too fast.",
                    "title": c.ALERT_TITLE.format(tier=b.severity),
                    "description": (
                        f"{label_value(c.LABEL_SERVICE)}/{label_value(c.LABEL_SLO)}: "
                        "error ratio {{ $value | humanizePercentage }} over "
                        f"{b.lookback}, a burn rate above {clean(b.threshold)} of a budget of "
                        f"{clean(slo.error_budget * 100)}% "
                        f"(alert policy {b.policy}, condition {b.condition})."
                    ),
                    **runbook,
                },
            }
        )
    if b.no_data:
        name = c.no_data_alert_name(b.name)
        out.append(
            {
                "alert": name,
                "expr": (
                    f"{c.OBJECTIVE}{{{sel}}}\nunless on ({c.LABEL_ID})\n"
                    f"{c.sli_error_record(b.lookback)}{{{sel}}}\n"
                ),
                **after,
                "labels": dict(sorted(labels.items())),
                "annotations": {
                    "summary": f"The {slo.name} SLO of {slo.service} has no SLI data over {b.lookback}.",
                    "description": (
                        f"{label_value(c.LABEL_SERVICE)}/{label_value(c.LABEL_SLO)}: no error ratio over "
                        f"{b.lookback}: its burn rate cannot be computed (alert policy {b.policy}, "
                        f"alertWhenNoData)."
                    ),
                    **(
                        {"runbook_url": runbook_url(opts.runbook_base_url, name)}
                        if opts.runbook_base_url
                        else {}
                    ),
                },
            }
        )
    return out


def alert_rules(slo: SLO, opts: Options) -> list[dict[str, Any]]:
    """The page and ticket tiers, or, for an OpenSLO SLO with alert policies, their conditions."""
    if slo.burn_alerts is not None:
        return [a for b in slo.burn_alerts for a in policy_alerts(slo, b, opts)]
    return [a for t in ("page", "ticket") if (a := tier_alert(slo, t, opts)) is not None]


def absent_alert(
    opts: Options, slos: list[SLO] | None = None, ids: list[str] | None = None
) -> dict[str, Any]:
    """One alert for every SLO (of `ids`, when given): its objective series exists but its current
    window's SLI does not.

    The SLI exists whenever the total query returns a series (0 under zero traffic), so this fires
    only when the SLI's own series are gone (service not scraped, metric renamed). SLOs with
    different current windows (custom alert windows) each count with their own.
    """
    current = sorted(
        {windows_of(s, opts).current_window for s in slos}
        if slos
        else {windows.DEFAULT.require("30d").current_window},
        key=milliseconds,
    )
    recorded = " or ".join(c.sli_error_record(w) for w in current)
    objective = c.OBJECTIVE + (f'{{{c.LABEL_ID}=~"{"|".join(ids)}"}}' if ids else "")
    return {
        "alert": ABSENT_ALERT,
        "expr": f"{objective} unless on ({c.LABEL_ID}) {recorded if len(current) == 1 else f'({recorded})'}"
        "\n",
        "for": opts.absent_for,
        "labels": dict(sorted({**opts.extra_labels, "severity": "warning"}.items())),
        "annotations": {
            "summary": "An SLO has no SLI data: its error ratio cannot be computed.",
            "description": (
                f"SLO {label_value(c.LABEL_ID)} (team {label_value('team')}) has had no "
                f"{'/'.join(current)} SLI series for "
                f"{opts.absent_for}: its total-events query returns nothing. "
                "Burn-rate alerts for it cannot fire."
            ),
            **(
                {"runbook_url": runbook_url(opts.runbook_base_url, ABSENT_ALERT)}
                if opts.runbook_base_url
                else {}
            ),
        },
    }


def groups(
    slos: list[SLO], opts: Options, include_absent: bool = True, limited: bool = False
) -> list[dict[str, Any]]:
    """Every SLO's groups, then SLIAbsent for the events SLIs that record an objective, naming them
    when other SLOs are in this output unwatched or (`limited`) in other outputs."""
    from obsctl.generate.rules import slo_plugins

    out: list[dict[str, Any]] = []
    watched, unwatched = [], 0
    for slo in slos:
        result = slo_plugins.run(slo, opts)
        out.extend(g.rendered() for g in result.groups() if g.rules)
        # A raw error ratio reads nothing both when its series are gone and when nobody calls the
        # service (0/0 is dropped): SLIAbsent cannot tell the two apart, so it watches events SLIs.
        if result.objective and slo.total_query is not None:
            watched.append(slo)
        elif result.objective:
            unwatched += 1
    if watched and include_absent and not opts.disable_alerts:
        ids = [s.id for s in watched] if limited or unwatched else None
        out.append({"name": ABSENT_GROUP, "rules": [absent_alert(opts, watched, ids)]})
    return out
