"""Service alerts that are not SLOs, rendered from observability/service-alerts.yaml.

Each alert is generated once per owning team, selecting that team's jobs (from the catalog), so
every alert carries a static `team` label for routing without a join at query time. The query and
the description are the entry's templates with its parameters filled in
(obsctl/generate/sources/service_alerts.py says which). Queries only use metrics declared in
observability/catalog.yaml (tests/rules checks that).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalog import Catalog
from obsctl import paths
from obsctl.errors import ObsctlError, Problem
from obsctl.generate.rules.slo_rules import runbook_url
from obsctl.generate.sources.service_alerts import (
    Scope,
    ServiceAlert,
    ServiceAlerts,
    TemplateError,
    substitute,
)

MAX_RULES_PER_GROUP = 20


@dataclass(frozen=True)
class Target:
    """One rule's jobs and the team it is routed to."""

    team: str
    jobs: tuple[str, ...]

    @property
    def selector(self) -> str:
        if len(self.jobs) == 1:
            return f'job="{self.jobs[0]}"'
        return f'job=~"{"|".join(self.jobs)}"'


def _by_team(jobs: list[tuple[str, str]]) -> list[Target]:
    teams: dict[str, list[str]] = {}
    for job, team in jobs:
        teams.setdefault(team, []).append(job)
    return [Target(team, tuple(sorted(names))) for team, names in sorted(teams.items())]


def targets(catalog: Catalog, scope: Scope, name: str, file: str) -> list[Target]:
    """The rules' targets of one alert's scope; a scope naming what the catalog lacks is an error."""

    def problem(field: str, got: str, expected: str) -> ObsctlError:
        return ObsctlError(
            [
                Problem(
                    file=file,
                    obj=f"alert {name}",
                    field=f"scope.{field}",
                    message=f"got {got!r}; expected {expected}",
                )
            ]
        )

    if scope.component is not None:
        component = catalog.external_components.get(scope.component)
        if component is None:
            known = ", ".join(sorted(catalog.external_components))
            raise problem("component", scope.component, f"an external component of {paths.CATALOG}: {known}")
        return [Target(component.team, (scope.component,))]
    if scope.all_jobs:
        jobs = [(n, s.team) for n, s in catalog.services.items()]
        jobs += [(n, c.team) for n, c in catalog.external_components.items()]
        return _by_team(jobs)
    metric = scope.owners_of or ""
    owners = catalog.owners(metric)
    if not owners:
        raise problem("owners_of", metric, f"a metric that a service of {paths.CATALOG} exposes")
    if scope.team_of is None:
        return _by_team([(s, catalog.services[s].team) for s in owners])
    service = catalog.services.get(scope.team_of)
    if service is None:
        raise problem(
            "team_of", scope.team_of, f"a service of {paths.CATALOG}: {', '.join(catalog.services)}"
        )
    return [Target(service.team, tuple(sorted(owners)))]


def render(name: str, alert: ServiceAlert, selector: str, file: str | None = None) -> tuple[str, str]:
    """The query and the description of one rule of `alert`, for the jobs `selector` matches."""
    values = alert.values(selector)
    rendered = []
    for field in ("expr", "description"):
        try:
            rendered.append(substitute(getattr(alert, field), values))
        except TemplateError as exc:
            where = file or str(paths.SERVICE_ALERTS)
            raise ObsctlError(
                [Problem(file=where, obj=f"alert {name}", field=field, message=str(exc))]
            ) from exc
    return rendered[0], rendered[1]


def rules(
    catalog: Catalog, source: ServiceAlerts, runbook_base_url: str, file: str | None = None
) -> list[dict[str, Any]]:
    """The rule groups of every service alert, one group per team (split beyond 20 rules)."""
    where = file or str(paths.SERVICE_ALERTS)
    by_team: dict[str, list[dict[str, Any]]] = {}
    for name, alert in source.alerts.items():
        for target in targets(catalog, alert.scope, name, where):
            expr, description = render(name, alert, target.selector, where)
            rule: dict[str, Any] = {"alert": name, "expr": expr}
            if alert.for_ not in ("0s", "0m"):
                rule["for"] = alert.for_
            rule["labels"] = {"severity": alert.severity, "team": target.team}
            rule["annotations"] = {
                "summary": alert.summary,
                "description": description,
                "runbook_url": runbook_url(runbook_base_url, name),
            }
            by_team.setdefault(target.team, []).append(rule)
    groups = []
    for team, team_rules in sorted(by_team.items()):
        for i in range(0, len(team_rules), MAX_RULES_PER_GROUP):
            suffix = f"-{i // MAX_RULES_PER_GROUP + 1}" if len(team_rules) > MAX_RULES_PER_GROUP else ""
            groups.append(
                {"name": f"service-alerts-{team}{suffix}", "rules": team_rules[i : i + MAX_RULES_PER_GROUP]}
            )
    return groups
