"""Generated promtool tests, one file per SLO, proving the alerts' detection and reset times.

Input series are derived from the SLO's own queries (parsed with promql_parser): the total
selector becomes the "good" series, an error selector that narrows it (status=~"5..") becomes
the "bad" series, and a subtracted selector (a histogram bucket `le`) becomes the "good" series of
a latency SLI. Traffic is 100 events per minute; an error ratio r sends 100*r of them to "bad".

Scenarios (times after the start of the test):
- outage: 6h healthy, then a total outage: the page fires within the fast pair's detection time
  (under 5 minutes when the budget allows it; see docs/slos.md), and resolves within the slow
  pair's short window (30m) plus margin after a long outage;
- short outage: the smallest outage that pages resolves within 15 minutes of recovery;
- 2x budget for 3 days: a ticket, never a page;
- half the budget for 3 days: no alert at any evaluation;
- zero traffic: the SLI is 0 (not NaN), nothing fires; when the series disappear, SLIAbsent fires.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from obsctl.errors import ObsctlError, Problem
from obsctl.generate import conventions, promql
from obsctl.generate.durations import hours, milliseconds
from obsctl.generate.rules.slo_rules import (
    ABSENT_ALERT,
    DEFAULT_SEVERITY,
    Options,
    absent_alert,
    label_value,
    period_of,
    slo_labels,
    tier_alert,
    windows_of,
)
from obsctl.generate.slo.model import SLO
from obsctl.generate.slo.numbers import clean

PER_MINUTE = Decimal(100)
HEALTHY = 360  # minutes of healthy traffic before an outage (fills the 6h window)
# Recording and alert groups evaluate independently (in promtool in no fixed order), so an alert
# may see a recording one evaluation late: every "fires by" expectation allows one minute.
EVALUATION_LAG = 1
ONE_DAY = 24 * 60
THREE_DAYS = 3 * ONE_DAY
# The steady-ratio tests (1 and 3 days) evaluate rules every 4 minutes (inputs stay at 1m): 4x
# faster, and a steady error ratio cannot cross a threshold between two evaluations. Not every 5:
# an alert evaluated before its recordings (promtool orders groups by chance) reads the previous
# evaluation's, then exactly as old as the 5m lookback, which Prometheus 3 leaves open (it sees none).
LONG_EVALUATION_INTERVAL = "4m"


@dataclass(frozen=True)
class Series:
    selector: str
    role: str  # total | good | bad


def _matching(regex: str) -> str | None:
    pattern = re.compile(regex)
    simple = regex.strip("^$()")
    candidates = [
        simple.replace(".", "0"),
        *[a.replace(".", "0") for a in simple.split("|")],
        "500",
        "1",
        "0",
    ]
    return next((c for c in candidates if pattern.fullmatch(c)), None)


def _not_matching(op: str, value: str) -> str | None:
    for c in ("200", "ok", "0", "x"):
        if (op in ("=", "!=") and c != value) or (op in ("=~", "!~") and not re.fullmatch(value, c)):
            return c
    return None


def _labels_for(sel: promql.Selector, slo: SLO) -> dict[str, str]:
    labels: dict[str, str] = {}
    for name, op, value in sel.matchers:
        chosen: str | None
        if op == "=":
            chosen = value
        elif op == "=~":
            chosen = _matching(value)
        elif op == "!=":
            chosen = None if value != "" else "x"
        else:  # !~: leave the label out when the empty value already satisfies it
            chosen = None if not re.fullmatch(value, "") else _not_matching("=~", value)
        if op in ("=", "=~") and chosen is None:
            raise ObsctlError(
                [
                    Problem(
                        file=slo.source,
                        obj=f"SLO {slo.name}",
                        message=f"cannot derive a test series for {name}{op}{value!r}; "
                        "expected simple matchers",
                    )
                ]
            )
        if chosen is not None:
            labels[name] = chosen
    return labels


def _render(name: str, labels: dict[str, str]) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return f"{name}{{{inner}}}"


def fixture(slo: SLO) -> list[Series]:
    """The input series that make this SLO's queries see a given error ratio."""
    if slo.total_query is None:
        raise ObsctlError(
            [Problem(file=slo.source, obj=f"SLO {slo.name}", message="raw SLIs get no generated tests")]
        )
    totals = list(dict.fromkeys((s.name, s.matchers) for s in promql.selectors(slo.query("total", "5m"))))
    if len(totals) != 1:
        raise ObsctlError(
            [
                Problem(
                    file=slo.source,
                    obj=f"SLO {slo.name}",
                    field=slo.fields.get("total", "total"),
                    message="expected exactly one series selector in the total query to derive tests",
                )
            ]
        )
    t_name, t_matchers = totals[0]
    total_sel = promql.Selector(t_name, t_matchers)
    total_labels = _labels_for(total_sel, slo)
    series: dict[str, Series] = {}
    total_role = "total"
    for e in promql.selectors(slo.query("error", "5m")):
        if (e.name, e.matchers) == totals[0]:
            continue
        if e.name == t_name and set(t_matchers) <= set(e.matchers):
            extra = [m for m in e.matchers if m not in t_matchers]
            bad = {**total_labels, **_labels_for(promql.Selector(e.name, tuple(extra)), slo)}
            series[_render(e.name, bad)] = Series(_render(e.name, bad), "bad")
            # The total's own series becomes the good part: same labels, a value the error misses.
            for name, op, value in extra:
                other = _not_matching(op, value)
                if other is not None:
                    total_labels[name] = other
            total_role = "good"
        else:
            labels = _labels_for(e, slo)
            role = "good" if e.sign < 0 else "bad"
            series[_render(e.name, labels)] = Series(_render(e.name, labels), role)
    out = [Series(_render(t_name, total_labels), total_role), *series.values()]
    return sorted(out, key=lambda s: s.selector)


def per_minute(slo: SLO, opts: Options) -> Decimal:
    """Test traffic: 100 events a minute, or twice the SLO's minimum-traffic guard if higher."""
    return max(PER_MINUTE, Decimal(math.ceil(opts.min_rate(slo) * 60 * 2)))


def _rate(role: str, ratio: Decimal, traffic: Decimal) -> Decimal:
    return {"total": traffic, "good": traffic * (1 - ratio), "bad": traffic * ratio}[role]


def counter(role: str, phases: list[tuple[Decimal | None, int]], traffic: Decimal = PER_MINUTE) -> str:
    """promtool series notation for a counter through phases of (error ratio, minutes).

    A ratio of None means no traffic (flat counter); a phase of ratio "gone" is written by the
    caller with `_` (missing samples).
    """
    parts = []
    value = Decimal(1000)  # counters start non-zero, as after a restart long ago
    first = True
    for ratio, minutes in phases:
        inc = Decimal(0) if ratio is None else _rate(role, ratio, traffic)
        if first:
            parts.append(f"{clean(value)}+{clean(inc)}x{minutes}")
            value += inc * minutes
            first = False
        else:
            parts.append(f"{clean(value + inc)}+{clean(inc)}x{minutes - 1}")
            value += inc * minutes
    return " ".join(parts)


def _minutes(duration: str) -> int:
    units = {"ms": 0, "s": 1 / 60, "m": 1, "h": 60, "d": 1440, "w": 10080}
    total = 0.0
    for number, unit in re.findall(r"(\d+)(ms|s|m|h|d|w)", duration):
        total += int(number) * units[unit]
    return math.ceil(total)


def _alerts(slo: SLO, tier: str, state: str = "firing") -> str:
    return (
        f'ALERTS{{alertname="{slo.alert_name}", alertstate="{state}", {conventions.LABEL_SEVERITY}="{tier}"}}'
    )


def _alerts_of(slo: SLO, tier: str) -> str:
    """The ALERTS series of the SLO's alert of `tier`, pending or firing."""
    return f'ALERTS{{alertname="{slo.alert_name}", {conventions.LABEL_SEVERITY}="{tier}"}}'


def _sample_labels(metric: str, labels: dict[str, str]) -> str:
    return _render(metric, labels)


_LABEL_REF = re.compile(r"\{\{\s*\$labels\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def _expanded(template: str, labels: dict[str, str]) -> str:
    """An annotation as Prometheus expands it: each `{{ $labels.x }}` replaced by the alert's label."""
    return _LABEL_REF.sub(lambda m: labels.get(m.group(1), ""), template)


def _humanize_pct(value: Decimal) -> str:
    # Go's humanizePercentage: fmt.Sprintf("%.4g%%", v*100)
    return f"{float(value * 100):.4g}%"


def _derivable(slo: SLO) -> bool:
    """Whether this module can derive the SLO's tests: an events SLI over occurrences with the
    page and ticket tiers. Raw and time-slice SLIs and OpenSLO alert policies get none (their
    alerts then need a hand-written test, which tests/rules/test_coverage.py asks for)."""
    return slo.total_query is not None and slo.slices is None and slo.burn_alerts is None


def tests_for(slo: SLO, opts: Options) -> dict[str, Any] | None:
    page = tier_alert(slo, "page", opts)
    if opts.disable_alerts or opts.disable_recordings or not _derivable(slo):
        return None
    fx = fixture(slo)
    period = period_of(slo, opts)
    budget = slo.error_budget
    pairs = windows_of(slo, opts).pairs
    labels = slo_labels(slo, opts)
    tests: list[dict[str, Any]] = []

    def group(phases: list[tuple[Decimal | None, int]], gone: int = 0) -> dict[str, Any]:
        inputs = []
        for s in fx:
            values = counter(s.role, phases, per_minute(slo, opts))
            if gone:
                values += f" _x{gone}"
            inputs.append({"series": s.selector, "values": values})
        return {"interval": "1m", "input_series": inputs}

    one = Decimal(1)
    fast, slow = pairs[0], pairs[1]
    fast_threshold = fast.factor(period) * budget
    reset_window = opts.tier_defaults(slo, "page").reset_window
    guarded = reset_window is not None and milliseconds(reset_window) < milliseconds(slow.short)
    page_labels = {**labels, **(page or {}).get("labels", {})}
    if page is not None and fast_threshold < 1:
        for_min = _minutes(page.get("for", "0s"))
        long_min = hours(fast.long) * 60
        # The fewest outage minutes that lift the fast pair's long window over its threshold.
        needed = math.floor(fast_threshold * long_min) + 1
        detect = needed + for_min + EVALUATION_LAG
        firing_page = [
            {
                "labels": _sample_labels(
                    "ALERTS", {"alertname": slo.alert_name, "alertstate": "firing", **page_labels}
                ),
                "value": 1,
            }
        ]
        g = group([(Decimal(0), HEALTHY), (one, 60), (Decimal(0), 60)])
        g["promql_expr_test"] = [
            {"expr": _alerts(slo, "page"), "eval_time": f"{HEALTHY}m", "exp_samples": []},
            {"expr": _alerts(slo, "page"), "eval_time": f"{HEALTHY + detect}m", "exp_samples": firing_page},
            {"expr": _alerts(slo, "page"), "eval_time": f"{HEALTHY + 60}m", "exp_samples": firing_page},
            # After a long outage the slow pair's short window (30m) holds the page until it drains,
            # unless the reset guard also asks for a current burn: then it resolves within 15 minutes.
            {
                "expr": _alerts(slo, "page"),
                "eval_time": f"{HEALTHY + 60 + (15 if guarded else _minutes(slow.short) + 5)}m",
                "exp_samples": [],
            },
        ]
        tests.append(g)
        # The smallest outage that pages resolves within 15 minutes of recovery, when it is too short
        # to trip the slow pair (true for every budget: the slow pair needs 2.5x the minutes).
        slow_needed = slow.factor(period) * budget * hours(slow.long) * 60
        if needed < slow_needed:
            g = group([(Decimal(0), HEALTHY), (one, needed), (Decimal(0), 60)])
            g["promql_expr_test"] = [
                {
                    "expr": _alerts(slo, "page"),
                    "eval_time": f"{HEALTHY + needed + for_min + EVALUATION_LAG}m",
                    "exp_samples": firing_page,
                },
                {"expr": _alerts(slo, "page"), "eval_time": f"{HEALTHY + needed + 15}m", "exp_samples": []},
            ]
            tests.append(g)
    # 2x and half the budget over days: see long_tests_for.
    # Zero traffic for 2h, then the series disappear: the SLI reads 0 (not NaN) and nothing fires
    # until the series are gone for longer than absent_for, when only SLIAbsent fires.
    present, gone = 120, 60
    absent_min = _minutes(opts.absent_for)
    g = group([(None, present)], gone=gone)
    absent_labels = {**labels, **opts.extra_labels, "severity": "warning"}
    sli_5m, sli_period = conventions.sli_error_record("5m"), conventions.sli_error_record(period)
    g["promql_expr_test"] = [
        {
            "expr": f'{sli_5m}{{{conventions.LABEL_ID}="{slo.id}"}}',
            "eval_time": f"{present}m",
            "exp_samples": [
                {
                    "labels": _sample_labels(sli_5m, {**labels, conventions.LABEL_WINDOW: "5m"}),
                    "value": 0,
                }
            ],
        },
        {
            "expr": f'{sli_period}{{{conventions.LABEL_ID}="{slo.id}"}}',
            "eval_time": f"{present}m",
            "exp_samples": [
                {
                    "labels": _sample_labels(
                        sli_period, {**labels, conventions.LABEL_WINDOW: conventions.window_name(period)}
                    ),
                    "value": 0,
                }
            ],
        },
        {
            "expr": f'count_over_time(ALERTS{{alertstate="firing"}}[{present}m])',
            "eval_time": f"{present}m",
            "exp_samples": [],
        },
    ]
    g["alert_rule_test"] = [
        {"eval_time": f"{present}m", "alertname": ABSENT_ALERT, "exp_alerts": []},
        {
            "eval_time": f"{present + 5 + absent_min + 5}m",
            "alertname": ABSENT_ALERT,
            "exp_alerts": [
                {
                    "exp_labels": dict(sorted(absent_labels.items())),
                    "exp_annotations": _absent_annotations(slo, labels, opts),
                }
            ],
        },
        {"eval_time": f"{present + 5 + absent_min + 5}m", "alertname": slo.alert_name, "exp_alerts": []},
    ]
    tests.append(g)
    return {"evaluation_interval": "1m", "tests": tests}


def long_tests_for(slo: SLO, opts: Options) -> dict[str, Any] | None:
    """Steady error ratios over days: 2x the budget opens a ticket and never pages; half the
    budget raises nothing at any evaluation, not even pending."""
    if opts.disable_alerts or opts.disable_recordings or not _derivable(slo):
        return None
    fx = fixture(slo)
    budget = slo.error_budget
    labels = slo_labels(slo, opts)
    page = tier_alert(slo, "page", opts)
    ticket = tier_alert(slo, "ticket", opts)
    tests: list[dict[str, Any]] = []

    def group(ratio: Decimal, minutes: int) -> dict[str, Any]:
        inputs = [
            {"series": s.selector, "values": counter(s.role, [(ratio, minutes)], per_minute(slo, opts))}
            for s in fx
        ]
        return {"interval": "1m", "input_series": inputs}

    if ticket is not None and page is not None:
        # 2x the budget for a day: the 1x ticket pair fires, the page never does.
        ratio = 2 * budget
        g = group(ratio, ONE_DAY)
        ticket_labels = {**labels, **ticket["labels"]}
        annotations = {
            k: _expanded(v, ticket_labels).replace("{{ $value | humanizePercentage }}", _humanize_pct(ratio))
            for k, v in ticket["annotations"].items()
        }
        exp = {"exp_labels": dict(sorted(ticket_labels.items())), "exp_annotations": annotations}
        g["alert_rule_test"] = [
            # (not earlier: a minimum-traffic guard averages over the 3d window, still filling up)
            {"eval_time": f"{ONE_DAY // 2}m", "alertname": slo.alert_name, "exp_alerts": [exp]},
            {"eval_time": f"{ONE_DAY}m", "alertname": slo.alert_name, "exp_alerts": [exp]},
        ]
        g["promql_expr_test"] = [
            {
                "expr": f"count_over_time({_alerts_of(slo, 'page')}[1d])",
                "eval_time": f"{ONE_DAY}m",
                "exp_samples": [],
            }
        ]
        tests.append(g)
    g = group(budget / 2, THREE_DAYS)
    g["promql_expr_test"] = [
        {
            "expr": f'count_over_time(ALERTS{{alertname=~"{slo.alert_name}|{ABSENT_ALERT}", '
            'alertstate="firing"}[3d])',
            "eval_time": f"{THREE_DAYS}m",
            "exp_samples": [],
        },
        {
            "expr": f'count_over_time(ALERTS{{alertname="{slo.alert_name}"}}[3d])',
            "eval_time": f"{THREE_DAYS}m",
            "exp_samples": [],
        },
    ]
    g["alert_rule_test"] = [{"eval_time": f"{THREE_DAYS}m", "alertname": slo.alert_name, "exp_alerts": []}]
    tests.append(g)
    return {"evaluation_interval": LONG_EVALUATION_INTERVAL, "tests": tests}


def _absent_annotations(slo: SLO, labels: dict[str, str], opts: Options) -> dict[str, str]:
    ann = dict(absent_alert(opts)["annotations"])
    ann["description"] = (
        ann["description"]
        .replace(label_value(conventions.LABEL_ID), slo.id)
        .replace(label_value("team"), labels.get("team", ""))
    )
    return ann


__all__ = ["DEFAULT_SEVERITY", "fixture", "tests_for"]
