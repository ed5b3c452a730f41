"""Sloth's SLO plugins: the ones Sloth v0.16.0 ships (core and contrib), their configuration, and
the chain each SLO runs, ordered as Sloth orders it.

A spec declares plugins for all its SLOs (`slo_plugins` / `sloPlugins`) and per SLO (`plugins`),
the command line for every SLO (`--slo-plugins`). Each SLO's chain is: the command line's and the
spec's plugins, sorted by `priority` (stable), those below 0 first, then Sloth's default chain
(validate, SLI rules, metadata rules, alert rules), then the rest. `overridePrevious` drops the
command line's plugins, the group's ones (when set on an SLO) and the default chain. What each
plugin does to the generated rules is in obsctl.generate.rules.slo_plugins.

Sloth's SLI plugins (`sli.plugin`) and any SLO plugin not listed here are Go code Sloth loads from
`--plugins-path`; obsctl cannot run them and refuses them by name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError, field_validator

from obsctl.errors import Problem, StrictModel, validation_problems
from obsctl.generate import conventions
from obsctl.generate.durations import canonical
from obsctl.generate.slo.model import SLO, PluginRef
from obsctl.generate.slo.numbers import yaml_string

VALIDATE = "sloth.dev/core/validate/v1"
SLI_RULES = "sloth.dev/core/sli_rules/v1"
METADATA_RULES = "sloth.dev/core/metadata_rules/v1"
ALERT_RULES = "sloth.dev/core/alert_rules/v1"
DEBUG = "sloth.dev/core/debug/v1"
NOOP = "sloth.dev/core/noop/v1"
DENOMINATOR_CORRECTED = "sloth.dev/contrib/denominator_corrected_rules/v1"
ERROR_BUDGET_EXHAUSTED = "sloth.dev/contrib/error_budget_exhausted_alert/v1"
INFO_LABELS = "sloth.dev/contrib/info_labels/v1"
REMOVE_LABELS = "sloth.dev/contrib/remove_labels/v1"
RULE_INTERVALS = "sloth.dev/contrib/rule_intervals/v1"
VALIDATE_VICTORIA_METRICS = "sloth.dev/contrib/validate_victoria_metrics/v1"

LabelValue = Annotated[str, BeforeValidator(yaml_string)]


def _duration(value: Any) -> str:
    return canonical(str(value))


Duration = Annotated[str, BeforeValidator(_duration)]


class NoConfig(StrictModel):
    """A plugin that takes no configuration."""


class DebugConfig(StrictModel):
    msg: str = ""
    result: bool = False
    request: bool = False


class SLIRulesConfig(StrictModel):
    # Sloth's "optimized" period SLI averages the short window's ratios; disabling it computes the
    # period from the SLI's own queries.
    disableOptimized: bool = False


class DenominatorCorrectedConfig(StrictModel):
    disableOptimized: bool = False


class ErrorBudgetExhaustedConfig(StrictModel):
    threshold: float = 0
    for_: Duration = Field("5m", alias="for")
    annotations: dict[str, LabelValue] = {}
    alert_name: str = conventions.BUDGET_EXHAUSTED_ALERT
    selector_labels: dict[str, LabelValue] = {}
    alert_labels: dict[str, LabelValue] = {}


class InfoLabelsConfig(StrictModel):
    labels: dict[str, LabelValue] = Field(min_length=1)
    metricName: str = conventions.INFO


class RemoveLabelsConfig(StrictModel):
    preserveLabels: list[str] = []
    skipMetrics: list[str] = []


class Intervals(StrictModel):
    default: Duration
    sliError: Duration | None = None
    metadata: Duration | None = None
    alert: Duration | None = None


class RuleIntervalsConfig(StrictModel):
    interval: Intervals


CONFIGS: dict[str, type[StrictModel]] = {
    VALIDATE: NoConfig,
    SLI_RULES: SLIRulesConfig,
    METADATA_RULES: NoConfig,
    ALERT_RULES: NoConfig,
    DEBUG: DebugConfig,
    NOOP: NoConfig,
    DENOMINATOR_CORRECTED: DenominatorCorrectedConfig,
    ERROR_BUDGET_EXHAUSTED: ErrorBudgetExhaustedConfig,
    INFO_LABELS: InfoLabelsConfig,
    REMOVE_LABELS: RemoveLabelsConfig,
    RULE_INTERVALS: RuleIntervalsConfig,
    VALIDATE_VICTORIA_METRICS: NoConfig,
}
# Sloth's default chain, in order; each runs at priority 0, between the negative and the rest.
DEFAULT_CHAIN = tuple(
    PluginRef(i, 0, CONFIGS[i](), "Sloth's default chain")
    for i in (VALIDATE, SLI_RULES, METADATA_RULES, ALERT_RULES)
)
# The plugins that validate an SLO's queries, each in its dialect.
VALIDATORS = (VALIDATE, VALIDATE_VICTORIA_METRICS)


class Declaration(StrictModel):
    """One entry of a plugin chain as a spec or `--slo-plugins` writes it."""

    id: str = Field(min_length=1)
    priority: int = 0
    config: Any = None

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        return yaml_string(value)


class Chain(StrictModel):
    """Sloth's `slo_plugins` / `sloPlugins` / `plugins` block."""

    overridePrevious: bool = False
    chain: list[Declaration] = []

    @field_validator("chain", mode="before")
    @classmethod
    def _none(cls, value: Any) -> Any:
        return [] if value is None else value


def resolve(
    declarations: Iterable[Declaration], where: str, file: str, obj: str | None, problems: list[Problem]
) -> tuple[PluginRef, ...]:
    """The declarations with their configurations validated; an unknown id, or a bad configuration,
    is a problem naming the plugin (and the SLO plugin's field) and the chain goes on."""
    out = []
    for i, d in enumerate(declarations):
        at = f"{where}.chain.{i}"
        model = CONFIGS.get(d.id)
        if model is None:
            problems.append(
                Problem(
                    file=file,
                    obj=obj,
                    field=f"{at}.id",
                    message=f"SLO plugin {d.id!r} is not supported: Sloth loads it as Go code from "
                    "--plugins-path, which obsctl cannot run; expected one of the plugins Sloth v0.16.0 "
                    f"ships: {', '.join(CONFIGS)}",
                )
            )
            continue
        try:
            config = model.model_validate(d.config if d.config is not None else {})
        except ValidationError as exc:
            for p in validation_problems(file, exc, obj, model):
                p.field = f"{at}.config" + (f".{p.field}" if p.field else "")
                p.message = f"plugin {d.id}: {p.message}"
                problems.append(p)
            continue
        out.append(PluginRef(d.id, d.priority, config, at))
    return tuple(out)


def chain(slo: SLO, app: Sequence[PluginRef] = (), disable_defaults: bool = False) -> tuple[PluginRef, ...]:
    """The plugins `slo` runs, in Sloth's order."""
    declared = [*(() if slo.override_plugins else app), *slo.plugins]
    ordered = sorted(declared, key=lambda p: p.priority)  # stable, as Sloth's
    defaults = () if slo.override_plugins or disable_defaults else DEFAULT_CHAIN
    return (*[p for p in ordered if p.priority < 0], *defaults, *[p for p in ordered if p.priority >= 0])


def validators(plugins: Iterable[PluginRef]) -> set[str]:
    """Which of the validating plugins a chain runs."""
    return {p.id for p in plugins if p.id in VALIDATORS}
