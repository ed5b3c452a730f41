"""What each of Sloth's SLO plugins does to an SLO's rules, and the chain that runs them.

Each SLO's result holds Sloth's three rule groups (SLI recordings, metadata recordings, alerts);
every plugin of the SLO's chain (obsctl.generate.slo.plugins.chain) changes it in turn, with the
effect Sloth v0.16.0's plugin of that id has. The rules each default plugin writes are obsctl's
(obsctl.generate.rules.slo_rules: no NaN, exact thresholds, an exact period window for events).
Validation is done when the specs are read (obsctl.generate.slo.load, in the dialect the chain
asks for), so the validating plugins change nothing here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from obsctl.generate import conventions as c
from obsctl.generate.rules import slo_rules
from obsctl.generate.rules.slo_rules import Options, record, selector, sli_expr, slo_labels, windows_of
from obsctl.generate.slo import plugins as p
from obsctl.generate.slo.model import SLO
from obsctl.generate.slo.numbers import clean

LOG = logging.getLogger("obsctl.slo.plugins")


@dataclass
class Group:
    name: str
    rules: list[dict[str, Any]] = field(default_factory=list)
    interval: str | None = None

    def rendered(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name}
        if self.interval:
            out["interval"] = self.interval
        out["rules"] = self.rules
        return out


@dataclass
class Result:
    sli: Group
    meta: Group
    alerts: Group
    # The chain recorded the SLO's objective (before --disable-recordings), so SLIAbsent covers it.
    objective: bool = False

    def groups(self) -> tuple[Group, ...]:
        return (self.sli, self.meta, self.alerts)


Effect = Callable[[SLO, Options, Any, Result], None]


def _nothing(slo: SLO, opts: Options, config: Any, result: Result) -> None:
    return None


def _debug(slo: SLO, opts: Options, config: p.DebugConfig, result: Result) -> None:
    if config.msg:
        LOG.debug("%s: %s", slo.id, config.msg)
    if config.request:
        LOG.debug("%s: request %r", slo.id, slo)
    if config.result:
        LOG.debug("%s: result %r", slo.id, result)


def _sli_rules(slo: SLO, opts: Options, config: p.SLIRulesConfig, result: Result) -> None:
    result.sli.rules = slo_rules.sli_rules(slo, opts, exact_period=config.disableOptimized)


def _metadata_rules(slo: SLO, opts: Options, config: Any, result: Result) -> None:
    result.meta.rules = slo_rules.meta_rules(slo, opts)


def _alert_rules(slo: SLO, opts: Options, config: Any, result: Result) -> None:
    result.alerts.rules = slo_rules.alert_rules(slo, opts)


def _denominator_corrected(
    slo: SLO, opts: Options, config: p.DenominatorCorrectedConfig, result: Result
) -> None:
    """Sloth's contrib plugin for seasonal traffic: a window's errors count against the period's
    traffic (errors / total x total(window) / total(period)), so a quiet night's few failures burn
    little. It replaces the SLI recordings and adds one correction recording per alert window."""
    labels = slo_labels(slo, opts)
    sel = selector(slo)
    period = slo_rules.period_of(slo, opts)
    rules = []
    alert_windows = windows_of(slo, opts).windows
    for w in alert_windows:
        corrected = f"{c.numerator_correction_record(w)}{{{sel}}}\n  * on ()\n  ({slo.query('error', w)})"
        expr = (
            f"(\n  (\n  {corrected}\n  )\n  /\n  ({slo.query('total', w)})\n) >= 0\n"
            f"or\n({slo.query('events', w)}) * 0\n"
        )
        rules.append(record(c.sli_error_record(w), expr, {**labels, c.LABEL_WINDOW: c.window_name(w)}))
    # The period's corrected ratio is its plain one: its window is the period itself.
    rules.append(
        record(
            c.sli_error_record(period),
            sli_expr(slo, c.window_name(period)),
            {**labels, c.LABEL_WINDOW: c.window_name(period)},
        )
    )
    result.sli.rules = rules
    result.meta.rules = [
        *result.meta.rules,
        *(
            record(
                c.numerator_correction_record(w),
                f"({slo.query('total', w)})\n/\n({slo.query('total', c.window_name(period))})\n",
                labels,
            )
            for w in alert_windows
        ),
    ]


def _budget_exhausted(slo: SLO, opts: Options, config: p.ErrorBudgetExhaustedConfig, result: Result) -> None:
    """Sloth's contrib alert: the period's error budget remaining is at or below the threshold."""
    matchers = {**slo_labels(slo, opts), **config.selector_labels}
    sel = ", ".join(f'{k}="{v}"' for k, v in sorted(matchers.items()))
    rule: dict[str, Any] = {
        "alert": config.alert_name,
        "expr": f"{c.PERIOD_ERROR_BUDGET_REMAINING}{{{sel}}} <= {clean(config.threshold)}",
        "for": config.for_,
    }
    if config.alert_labels:
        rule["labels"] = dict(sorted(config.alert_labels.items()))
    if config.annotations:
        rule["annotations"] = dict(config.annotations)
    result.alerts.rules = [*result.alerts.rules, rule]


def _info_labels(slo: SLO, opts: Options, config: p.InfoLabelsConfig, result: Result) -> None:
    for rule in result.meta.rules:
        if rule.get("record") == config.metricName:
            rule["labels"] = dict(sorted({**rule["labels"], **config.labels}.items()))
            break


def _remove_labels(slo: SLO, opts: Options, config: p.RemoveLabelsConfig, result: Result) -> None:
    """Sloth's contrib plugin: only the SLO's identity (and sloth_window on the SLI recordings) and
    `preserveLabels` stay on the recordings, except the info recording and `skipMetrics`."""
    keep = {*c.IDENTITY, *config.preserveLabels}
    skip = {c.INFO, *config.skipMetrics}
    for group, kept in ((result.sli, keep | {c.LABEL_WINDOW}), (result.meta, keep)):
        for rule in group.rules:
            if rule.get("record") not in skip and "labels" in rule:
                rule["labels"] = {k: v for k, v in rule["labels"].items() if k in kept}


def _rule_intervals(slo: SLO, opts: Options, config: p.RuleIntervalsConfig, result: Result) -> None:
    i = config.interval
    result.sli.interval = i.sliError or i.default
    result.meta.interval = i.metadata or i.default
    result.alerts.interval = i.alert or i.default


EFFECTS: dict[str, Effect] = {
    p.VALIDATE: _nothing,
    p.VALIDATE_VICTORIA_METRICS: _nothing,
    p.NOOP: _nothing,
    p.DEBUG: _debug,
    p.SLI_RULES: _sli_rules,
    p.METADATA_RULES: _metadata_rules,
    p.ALERT_RULES: _alert_rules,
    p.DENOMINATOR_CORRECTED: _denominator_corrected,
    p.ERROR_BUDGET_EXHAUSTED: _budget_exhausted,
    p.INFO_LABELS: _info_labels,
    p.REMOVE_LABELS: _remove_labels,
    p.RULE_INTERVALS: _rule_intervals,
}


def run(slo: SLO, opts: Options) -> Result:
    """The SLO's rules after its whole chain; the command line's --disable-* options apply last."""
    result = Result(
        Group(c.sli_recordings_group(slo.id)),
        Group(c.meta_recordings_group(slo.id)),
        Group(c.alerts_group(slo.id)),
    )
    for plugin in p.chain(slo, opts.plugins, opts.disable_default_plugins):
        EFFECTS[plugin.id](slo, opts, plugin.config, result)
    result.objective = any(r.get("record") == c.OBJECTIVE for r in result.meta.rules)
    if opts.disable_alerts:
        result.alerts.rules = []
    if opts.disable_recordings:
        result.sli.rules = []
        result.meta.rules = []
    return result
