"""Service alerts that are not SLOs, from observability/thresholds.yaml.

Each alert is generated once per owning team, selecting that team's jobs (from the catalog), so
every alert carries a static `team` label for routing without a join at query time. Queries only
use metrics declared in observability/catalog.yaml (tests/rules checks that).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from catalog import Catalog
from obsctl.errors import ObsctlError, Problem
from obsctl.generate.rules.slo_rules import runbook_url
from obsctl.generate.rules.thresholds import AlertThreshold, Thresholds
from obsctl.generate.slo.numbers import clean

MAX_RULES_PER_GROUP = 20


@dataclass(frozen=True)
class Scope:
    team: str
    jobs: tuple[str, ...]

    @property
    def job(self) -> str:
        if len(self.jobs) == 1:
            return f'job="{self.jobs[0]}"'
        return f'job=~"{"|".join(self.jobs)}"'


@dataclass(frozen=True)
class ServiceAlert:
    name: str
    summary: str  # static, ends with a period
    # (scope, threshold) -> (expr, description)
    build: Callable[[Scope, AlertThreshold], tuple[str, str]]
    # which jobs it watches: the services exposing this metric, grouped by their team ...
    metric: str | None = None
    # ... or one fixed scope computed from the catalog
    scopes: Callable[[Catalog], list[Scope]] | None = None


def scopes_of_metric(catalog: Catalog, metric: str) -> list[Scope]:
    by_team: dict[str, list[str]] = {}
    for svc in catalog.owners(metric):
        by_team.setdefault(catalog.services[svc].team, []).append(svc)
    return [Scope(team, tuple(sorted(jobs))) for team, jobs in sorted(by_team.items())]


def _all_jobs(catalog: Catalog) -> list[Scope]:
    """Every scrape job: the services, plus the external components we scrape (job = their name)."""
    by_team: dict[str, list[str]] = {}
    for name, svc in catalog.services.items():
        by_team.setdefault(svc.team, []).append(name)
    for name, comp in catalog.external_components.items():
        by_team.setdefault(comp.team, []).append(name)
    return [Scope(team, tuple(sorted(jobs))) for team, jobs in sorted(by_team.items())]


def _channel_callers(catalog: Catalog) -> list[Scope]:
    # The provider integration is owned by the team that owns the channel service.
    callers = tuple(sorted(catalog.owners("http_client_request_duration_seconds")))
    return [Scope(catalog.services["channel"].team, callers)]


def _collector(catalog: Catalog) -> list[Scope]:
    return [Scope(catalog.external_components["otel-collector"].team, ("otel-collector",))]


def _pct(ratio: float) -> str:
    return clean(ratio * 100) + "%"


ALERTS: tuple[ServiceAlert, ...] = (
    ServiceAlert(
        name="DependencyErrorRateHigh",
        summary="Calls from a service to one of its dependencies are failing.",
        metric="http_client_request_duration_seconds",
        build=lambda s, t: (
            "(\n"
            "  sum by (job, server_address) (rate(http_client_request_duration_seconds_count"
            f'{{{s.job},http_response_status_code=~"5..|0"}}[5m]))\n'
            "  /\n"
            "  sum by (job, server_address) "
            f"(rate(http_client_request_duration_seconds_count{{{s.job}}}[5m]))\n"
            f")\n> {clean(t.value('ratio'))}\n",
            "{{ $labels.job }} calls to {{ $labels.server_address }}: "
            "{{ $value | humanizePercentage }} failed "
            f"(5xx or no response) over 5m, above {_pct(t.value('ratio'))}.",
        ),
    ),
    ServiceAlert(
        name="ChannelLatencyHigh",
        summary="The payment channel (provider) answers slowly.",
        scopes=_channel_callers,
        build=lambda s, t: (
            "histogram_quantile(0.99,\n"
            "  sum by (job, le) (rate(http_client_request_duration_seconds_bucket"
            f'{{{s.job},server_address="channel"}}[5m]))\n'
            f")\n> {clean(t.value('p99_seconds'))}\n",
            "p99 of {{ $labels.job }} calls to the channel is {{ $value | humanizeDuration }} over 5m, "
            f"above {clean(t.value('p99_seconds'))}s.",
        ),
    ),
    ServiceAlert(
        name="CircuitBreakerOpen",
        summary="A circuit breaker is open: calls to a dependency are being refused.",
        metric="circuit_breaker_state",
        build=lambda s, t: (
            f"max by (job, dependency) (circuit_breaker_state{{{s.job}}}) == 1\n",
            "The circuit breaker of {{ $labels.job }} towards {{ $labels.dependency }} has been open "
            f"for {t.for_}.",
        ),
    ),
    ServiceAlert(
        name="OutboxBacklogGrowing",
        summary="Payment events are piling up in the outbox instead of reaching Kafka.",
        metric="payment_outbox_backlog",
        build=lambda s, t: (
            f"max by (job) (payment_outbox_backlog{{{s.job}}}) > {clean(t.value('events'))}\n"
            "and\n"
            f"max by (job) (deriv(payment_outbox_backlog{{{s.job}}}[5m])) > 0\n",
            "{{ $labels.job }} has {{ $value }} unpublished outbox events, above "
            f"{clean(t.value('events'))} and still growing.",
        ),
    ),
    ServiceAlert(
        name="ConsumerLagHigh",
        summary="The notification consumer is falling behind the payment events.",
        metric="kafka_consumer_lag",
        build=lambda s, t: (
            f"max by (job, topic) (kafka_consumer_lag{{{s.job}}}) > {clean(t.value('records'))}\n",
            "{{ $labels.job }} lags {{ $value }} records behind on topic {{ $labels.topic }}, above "
            f"{clean(t.value('records'))}.",
        ),
    ),
    ServiceAlert(
        name="IdempotencyStoreUnreachable",
        summary="The idempotency store is failing: payments are refused with 503.",
        metric="payment_idempotency_store_errors_total",
        build=lambda s, t: (
            f"sum by (job) (rate(payment_idempotency_store_errors_total{{{s.job}}}[2m])) "
            f"> {clean(t.value('errors_per_second'))}\n",
            '{{ $labels.job }} sees {{ $value | printf "%.2f" }} idempotency store errors '
            "per second over 2m.",
        ),
    ),
    ServiceAlert(
        name="RateLimitingSurge",
        summary="An unusual share of requests is being rate-limited.",
        metric="gateway_rate_limited_requests_total",
        build=lambda s, t: (
            f"sum by (job) (rate(gateway_rate_limited_requests_total{{{s.job}}}[5m]))\n"
            "/\n"
            f"sum by (job) (rate(http_server_request_duration_seconds_count{{{s.job}}}[5m]))\n"
            f"> {clean(t.value('ratio'))}\n",
            "{{ $labels.job }} rejected {{ $value | humanizePercentage }} of requests with 429 over 5m, "
            f"above {_pct(t.value('ratio'))}.",
        ),
    ),
    ServiceAlert(
        name="PostgresConnectionSaturation",
        summary="A service is running out of PostgreSQL pool connections.",
        metric="db_client_connections_usage",
        build=lambda s, t: (
            f'sum by (job) (db_client_connections_usage{{{s.job},state="used"}})\n'
            "/\n"
            f"sum by (job) (db_client_connections_max{{{s.job}}})\n"
            f"> {clean(t.value('ratio'))}\n",
            "{{ $labels.job }} uses {{ $value | humanizePercentage }} of its PostgreSQL pool, above "
            f"{_pct(t.value('ratio'))}.",
        ),
    ),
    ServiceAlert(
        name="InstanceDown",
        summary="A scrape target is down.",
        scopes=_all_jobs,
        build=lambda s, t: (
            f"up{{{s.job}}} == 0\n",
            "{{ $labels.job }} instance {{ $labels.instance }} "
            f"has not answered scrapes for {t.for_}.",
        ),
    ),
    ServiceAlert(
        name="CollectorExportFailures",
        summary="The OpenTelemetry Collector is failing to export spans.",
        scopes=_collector,
        build=lambda s, t: (
            "sum by (job, exporter) (rate(otelcol_exporter_send_failed_spans_total[5m]))\n"
            "/\n"
            "(\n"
            "  sum by (job, exporter) (rate(otelcol_exporter_sent_spans_total[5m]))\n"
            "  +\n"
            "  sum by (job, exporter) (rate(otelcol_exporter_send_failed_spans_total[5m]))\n"
            f")\n> {clean(t.value('ratio'))}\n",
            "Exporter {{ $labels.exporter }} of {{ $labels.job }} failed {{ $value | humanizePercentage }} "
            f"of spans over 5m, above {_pct(t.value('ratio'))}.",
        ),
    ),
    ServiceAlert(
        name="CollectorRefusingData",
        summary="The OpenTelemetry Collector is refusing spans.",
        scopes=_collector,
        build=lambda s, t: (
            "sum by (job, receiver) (rate(otelcol_receiver_refused_spans_total[5m])) "
            f"> {clean(t.value('per_second'))}\n",
            "Receiver {{ $labels.receiver }} of {{ $labels.job }} refuses "
            '{{ $value | printf "%.2f" }} spans per '
            "second over 5m (memory limiter or a full pipeline).",
        ),
    ),
)


def rules(catalog: Catalog, thresholds: Thresholds) -> list[dict[str, Any]]:
    problems = []
    for a in ALERTS:
        if a.name not in thresholds.alerts:
            problems.append(
                Problem(
                    file="observability/thresholds.yaml", field=f"alerts.{a.name}", message="missing entry"
                )
            )
    unknown = sorted(set(thresholds.alerts) - {a.name for a in ALERTS})
    for name in unknown:
        problems.append(
            Problem(
                file="observability/thresholds.yaml",
                field=f"alerts.{name}",
                message=f"no such alert; expected one of {', '.join(a.name for a in ALERTS)}",
            )
        )
    if problems:
        raise ObsctlError(problems)
    by_team: dict[str, list[dict[str, Any]]] = {}
    for a in ALERTS:
        t = thresholds.alerts[a.name]
        scopes = a.scopes(catalog) if a.scopes else scopes_of_metric(catalog, a.metric or "")
        for scope in scopes:
            try:
                expr, description = a.build(scope, t)
            except KeyError as exc:
                raise ObsctlError(
                    [
                        Problem(
                            file="observability/thresholds.yaml",
                            field=f"alerts.{a.name}.{exc.args[0]}",
                            message="missing or not a number",
                        )
                    ]
                ) from exc
            rule: dict[str, Any] = {"alert": a.name, "expr": expr}
            if t.for_ not in ("0s", "0m"):
                rule["for"] = t.for_
            rule["labels"] = {"severity": t.severity, "team": scope.team}
            rule["annotations"] = {
                "summary": a.summary,
                "description": description,
                "runbook_url": runbook_url(thresholds.runbook_base_url, a.name),
            }
            by_team.setdefault(scope.team, []).append(rule)
    groups = []
    for team, team_rules in sorted(by_team.items()):
        for i in range(0, len(team_rules), MAX_RULES_PER_GROUP):
            suffix = f"-{i // MAX_RULES_PER_GROUP + 1}" if len(team_rules) > MAX_RULES_PER_GROUP else ""
            groups.append(
                {"name": f"service-alerts-{team}{suffix}", "rules": team_rules[i : i + MAX_RULES_PER_GROUP]}
            )
    return groups
