"""Service alerts rendered from the templates of observability/service-alerts.yaml."""

from __future__ import annotations

from typing import Any

import pytest

import catalog
from obsctl import paths
from obsctl.errors import ObsctlError
from obsctl.generate.rules import service_alerts
from obsctl.generate.sources import service_alerts as source
from obsctl.generate.sources.service_alerts import ServiceAlert


def _alert(**changes: Any) -> ServiceAlert:
    entry: dict[str, Any] = {
        "severity": "warning",
        "for": "5m",
        "thresholds": {"ratio": 0.05},
        "scope": {"owners_of": "http_client_request_duration_seconds"},
        "summary": "Calls are failing.",
        "expr": "sum by (job) (rate(errors_total{%(selector)s}[5m]))\n/\n"
        "sum by (job) (rate(calls_total{%(selector)s}[5m]))\n> %(ratio)s\n",
        "description": "{{ $labels.job }} failed {{ $value | humanizePercentage }}, "
        "above %(ratio_percent)s for %(for)s.",
    }
    entry.update(changes)
    return ServiceAlert.model_validate(entry)


def test_one_alert_renders_from_its_template() -> None:
    expr, description = service_alerts.render("CallsFailing", _alert(), 'job=~"gateway|payment"')
    assert expr == (
        'sum by (job) (rate(errors_total{job=~"gateway|payment"}[5m]))\n/\n'
        'sum by (job) (rate(calls_total{job=~"gateway|payment"}[5m]))\n> 0.05\n'
    )
    # Prometheus' own templates are left for Prometheus.
    assert description == "{{ $labels.job }} failed {{ $value | humanizePercentage }}, above 5% for 5m."


def test_numbers_are_written_as_a_human_writes_them() -> None:
    values = _alert(thresholds={"ratio": 0.005}).values('job="a"')
    assert (values["ratio"], values["ratio_percent"]) == ("0.005", "0.5%")
    values = _alert(thresholds={"ratio": 1000}).values('job="a"')
    assert (values["ratio"], values["ratio_percent"]) == ("1000", "100000%")


def test_a_parameter_missing_at_render_names_file_alert_and_field() -> None:
    # Loading rejects such an entry; render checks again for alerts built in code.
    alert = _alert().model_copy(update={"expr": "up{%(selector)s} > %(floor)s\n"})
    with pytest.raises(ObsctlError) as err:
        service_alerts.render("CallsFailing", alert, 'job="a"')
    assert (
        f"{paths.SERVICE_ALERTS}: alert CallsFailing: expr: got parameter %(floor)s; expected one of"
        in str(err.value)
    )


@pytest.mark.parametrize(
    ("scope", "field", "got"),
    [
        ({"owners_of": "http_requests_total"}, "scope.owners_of", "'http_requests_total'"),
        (
            {"owners_of": "http_client_request_duration_seconds", "team_of": "billing"},
            "scope.team_of",
            "'billing'",
        ),
        ({"component": "jaeger"}, "scope.component", "'jaeger'"),
    ],
)
def test_a_scope_naming_what_the_catalog_lacks(scope: dict[str, str], field: str, got: str) -> None:
    alerts = source.ServiceAlerts(alerts={"CallsFailing": _alert(scope=scope)})
    with pytest.raises(ObsctlError) as err:
        service_alerts.rules(catalog.default(), alerts, "docs/runbooks.md")
    message = str(err.value)
    assert f"{paths.SERVICE_ALERTS}: alert CallsFailing: {field}: got {got}; expected" in message
    assert str(paths.CATALOG) in message
