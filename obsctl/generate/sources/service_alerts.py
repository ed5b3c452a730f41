"""observability/service-alerts.yaml: the service alerts that are not SLOs, each with its severity,
`for`, named thresholds, the jobs it watches, and its query and description as templates.

Templates name their parameters mixin-style, `%(name)s`, so they never mix with Prometheus' own
`{{ $labels.job }}` templates, which are kept as written for Prometheus to fill in at alert time.
An alert's parameters are:

- `%(selector)s`: the label matcher of the jobs one rule watches, `job="a"` or `job=~"a|b"`;
- `%(for)s`: the alert's `for`;
- `%(<threshold>)s` for each of its thresholds, the number as a human writes it (0.05, 1000), and
  `%(<threshold>_percent)s`, the same number times 100 with a percent sign (5%).

Every parameter a template names must exist and every threshold must be used by the query, or
loading fails naming the file, the alert, the field and the parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from obsctl import paths
from obsctl.errors import StrictModel
from obsctl.generate.slo.numbers import clean
from obsctl.generate.sources.read import load_model

DURATION = r"^([0-9]+(ms|s|m|h|d|w|y))+$"
SELECTOR = "selector"
FOR = "for"
PERCENT_SUFFIX = "_percent"

_PARAMETER = re.compile(r"%\(([A-Za-z_][A-Za-z0-9_]*)\)s")
_OPENING = "%("

# A threshold is a number (an int or a float, never a quoted string or a boolean), named like an
# identifier so that templates can name it.
Threshold = Annotated[float, Field(strict=True)]
ThresholdName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class TemplateError(ValueError):
    """A template names a parameter that does not exist, or writes one badly."""


def parameters(template: str) -> list[str]:
    """The parameters a template names, in order; a `%(` that does not open `%(name)s` is an error."""
    found = []
    position = template.find(_OPENING)
    while position != -1:
        match = _PARAMETER.match(template, position)
        if match is None:
            snippet = template[position : position + 20].split("\n")[0]
            raise TemplateError(f"got {snippet!r}; expected a parameter written %(name)s")
        found.append(match.group(1))
        position = template.find(_OPENING, match.end())
    return found


def substitute(template: str, values: Mapping[str, str]) -> str:
    """The template with every `%(name)s` replaced by `values[name]`; nothing else is touched."""
    for name in parameters(template):
        if name not in values:
            raise TemplateError(
                f"got parameter %({name})s; expected one of {', '.join(f'%({k})s' for k in values)}"
            )
    return _PARAMETER.sub(lambda m: values[m.group(1)], template)


class Scope(StrictModel):
    """Which jobs an alert watches and which team it is routed to; one rule per team."""

    # The services that expose this metric of observability/catalog.yaml, grouped by their team.
    owners_of: str | None = None
    # With owners_of: all of those services in one rule, routed to the team owning this service.
    team_of: str | None = None
    # Every scrape job: the services and the external components of the catalog, by team.
    all_jobs: Literal[True] | None = None
    # One external component of the catalog (its scrape job is its name), routed to its team.
    component: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Scope:
        kinds = [k for k in ("owners_of", "all_jobs", "component") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"got {', '.join(kinds) or 'no kind'}; expected exactly one of owners_of, all_jobs, component"
            )
        if self.team_of is not None and self.owners_of is None:
            raise ValueError(f"got team_of with {kinds[0]}; expected team_of only next to owners_of")
        return self


class ServiceAlert(StrictModel):
    severity: Literal["critical", "warning", "info"] = "warning"
    for_: str = Field(alias="for", pattern=DURATION)
    thresholds: dict[ThresholdName, Threshold] = {}
    scope: Scope
    # Static text, the same for every rule of the alert.
    summary: str = Field(pattern=r"\.$")
    expr: str = Field(min_length=1)
    description: str = Field(min_length=1)

    @field_validator("thresholds")
    @classmethod
    def _names_free(cls, thresholds: dict[str, float]) -> dict[str, float]:
        for name in thresholds:
            if name in (SELECTOR, FOR) or name.endswith(PERCENT_SUFFIX):
                raise ValueError(
                    f"got threshold {name!r}; expected a name other than {SELECTOR}, {FOR} "
                    f"and *{PERCENT_SUFFIX} (those parameters exist already)"
                )
        return thresholds

    @field_validator("expr", "description")
    @classmethod
    def _known_parameters(cls, template: str, info: ValidationInfo) -> str:
        if "thresholds" not in info.data:
            return template  # the thresholds' own problem is reported
        thresholds: dict[str, float] = info.data["thresholds"]
        known = parameter_names(thresholds)
        try:
            used = parameters(template)
        except TemplateError as exc:
            raise ValueError(str(exc)) from exc
        for name in used:
            if name not in known:
                raise ValueError(
                    f"got parameter %({name})s; expected one of {', '.join(f'%({k})s' for k in known)}"
                )
        if info.field_name == "expr":
            unused = [t for t in thresholds if t not in used]
            if unused:
                raise ValueError(
                    f"got no %({unused[0]})s; expected the query to compare against every threshold"
                )
        return template

    def values(self, selector: str) -> dict[str, str]:
        """Every parameter's value for one rule of the alert."""
        out = {SELECTOR: selector, FOR: self.for_}
        for name, value in self.thresholds.items():
            out[name] = clean(value)
            out[name + PERCENT_SUFFIX] = clean(Decimal(str(value)) * 100) + "%"
        return out


def parameter_names(thresholds: Mapping[str, float]) -> list[str]:
    names = [SELECTOR, FOR]
    for name in thresholds:
        names += [name, name + PERCENT_SUFFIX]
    return names


class ServiceAlerts(StrictModel):
    # Alert name -> its entry; the rules are generated in this order.
    alerts: dict[Annotated[str, Field(pattern=r"^[A-Z][A-Za-z0-9]*$")], ServiceAlert]


def load(path: Path | None = None) -> ServiceAlerts:
    return load_model(path or paths.SERVICE_ALERTS, ServiceAlerts, objects={"alerts": "alert"})


@lru_cache(maxsize=1)
def default() -> ServiceAlerts:
    return load()
