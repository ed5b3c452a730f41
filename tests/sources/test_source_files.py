"""The loaders of observability/: the repository's files load, and every mistake in one is reported
naming the file, the object, the field, what was got and what was expected."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from obsctl import paths
from obsctl.errors import ObsctlError
from obsctl.generate.sources import alert_routing, collector, service_alerts, slo_policy


def _edited(tmp_path: Path, source: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of `source` (parsed, changed by `edit`, written back) under tmp_path."""
    raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / source.name
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def _error(load: Callable[[Path], Any], path: Path) -> str:
    with pytest.raises(ObsctlError) as err:
        load(path)
    return str(err.value)


def test_the_repository_files_load() -> None:
    assert slo_policy.load().defaults.period in ("30d", "28d", "7d")
    assert "DependencyErrorRateHigh" in service_alerts.load().alerts
    assert alert_routing.load().webhook_base_url.startswith("http")
    assert collector.load().sampling.tail.latency_slo


# slo-policy.yaml


def test_slo_policy_unknown_key(tmp_path: Path) -> None:
    path = _edited(tmp_path, paths.SLO_POLICY, lambda r: r["defaults"].update(paeg={"enabled": False}))
    message = _error(slo_policy.load, path)
    assert f"{path}: defaults.paeg: unknown key; got 'paeg', expected one of period, page, ticket" in message


def test_slo_policy_wrong_type_names_the_override(tmp_path: Path) -> None:
    path = _edited(
        tmp_path,
        paths.SLO_POLICY,
        lambda r: r["overrides"]["notification-notification-delivery"].update(min_request_rate="lots"),
    )
    message = _error(slo_policy.load, path)
    where = f"{path}: SLO notification-notification-delivery: min_request_rate"
    assert f"{where}: got 'lots'; expected a valid number" in message


def test_slo_policy_bad_value(tmp_path: Path) -> None:
    path = _edited(tmp_path, paths.SLO_POLICY, lambda r: r["defaults"].update(period="90d"))
    assert f"{path}: defaults.period: got '90d'; expected '30d', '28d' or '7d'" in _error(
        slo_policy.load, path
    )


# service-alerts.yaml


def _alert(raw: dict[str, Any], name: str = "DependencyErrorRateHigh") -> dict[str, Any]:
    alert: dict[str, Any] = raw["alerts"][name]
    return alert


def test_service_alert_unknown_key(tmp_path: Path) -> None:
    path = _edited(tmp_path, paths.SERVICE_ALERTS, lambda r: _alert(r).update(treshold=0.1))
    message = _error(service_alerts.load, path)
    assert f"{path}: alert DependencyErrorRateHigh: treshold: unknown key; got 'treshold'" in message
    assert "expected one of severity, for, thresholds, scope, summary, expr, description" in message


def test_service_alert_threshold_of_the_wrong_type(tmp_path: Path) -> None:
    path = _edited(tmp_path, paths.SERVICE_ALERTS, lambda r: _alert(r)["thresholds"].update(ratio="5%"))
    message = _error(service_alerts.load, path)
    assert (
        f"{path}: alert DependencyErrorRateHigh: thresholds.ratio: got '5%'; expected a valid number"
        in message
    )


def test_service_alert_unknown_template_parameter(tmp_path: Path) -> None:
    path = _edited(
        tmp_path,
        paths.SERVICE_ALERTS,
        lambda r: _alert(r).update(description="Above %(ratio_pct)s."),
    )
    message = _error(service_alerts.load, path)
    assert f"{path}: alert DependencyErrorRateHigh: description: got parameter %(ratio_pct)s" in message
    assert "expected one of %(selector)s, %(for)s, %(ratio)s, %(ratio_percent)s" in message


def test_service_alert_badly_written_parameter(tmp_path: Path) -> None:
    path = _edited(tmp_path, paths.SERVICE_ALERTS, lambda r: _alert(r).update(expr="up > %(ratio)\n"))
    message = _error(service_alerts.load, path)
    assert (
        f"{path}: alert DependencyErrorRateHigh: expr: got '%(ratio)'; expected a parameter written %(name)s"
        in (message)
    )


def test_service_alert_threshold_the_query_ignores(tmp_path: Path) -> None:
    path = _edited(tmp_path, paths.SERVICE_ALERTS, lambda r: _alert(r)["thresholds"].update(floor=2))
    message = _error(service_alerts.load, path)
    assert f"{path}: alert DependencyErrorRateHigh: expr: got no %(floor)s" in message
    assert "expected the query to compare against every threshold" in message


def test_service_alert_scope_of_two_kinds(tmp_path: Path) -> None:
    path = _edited(tmp_path, paths.SERVICE_ALERTS, lambda r: _alert(r)["scope"].update(all_jobs=True))
    message = _error(service_alerts.load, path)
    assert f"{path}: alert DependencyErrorRateHigh: scope: got owners_of, all_jobs" in message
    assert "expected exactly one of owners_of, all_jobs, component" in message


def test_service_alert_threshold_named_like_a_parameter(tmp_path: Path) -> None:
    path = _edited(tmp_path, paths.SERVICE_ALERTS, lambda r: _alert(r)["thresholds"].update(selector=1))
    message = _error(service_alerts.load, path)
    assert f"{path}: alert DependencyErrorRateHigh: thresholds: got threshold 'selector'" in message


def test_template_substitution_touches_only_parameters() -> None:
    template = '{{ $labels.job }} sees {{ $value | printf "%.2f" }} per second, above %(rate)s for %(for)s.'
    text = service_alerts.substitute(template, {"rate": "0.5", "for": "2m"})
    assert text == '{{ $labels.job }} sees {{ $value | printf "%.2f" }} per second, above 0.5 for 2m.'
    with pytest.raises(
        service_alerts.TemplateError, match=r"got parameter %\(rate\)s; expected one of %\(for\)s"
    ):
        service_alerts.substitute(template, {"for": "2m"})


# alert-routing.yaml


def test_alert_routing_unknown_key(tmp_path: Path) -> None:
    path = _edited(tmp_path, paths.ALERT_ROUTING, lambda r: r.update(webhook_url="http://x"))
    message = _error(alert_routing.load, path)
    assert f"{path}: webhook_url: unknown key; got 'webhook_url'" in message
    assert "expected one of runbook_base_url, webhook_base_url" in message


def test_alert_routing_wrong_type(tmp_path: Path) -> None:
    path = _edited(tmp_path, paths.ALERT_ROUTING, lambda r: r.update(webhook_base_url="alert-webhook:8080"))
    message = _error(alert_routing.load, path)
    assert (
        f"{path}: webhook_base_url: got 'alert-webhook:8080'; expected: string should match pattern"
        in message
    )


# collector.yaml (the latency SLO reference is checked against the SLOs: tests/collector)


def test_collector_unknown_key_in_the_sampling_section(tmp_path: Path) -> None:
    path = _edited(tmp_path, paths.COLLECTOR_SOURCE, lambda r: r["sampling"]["head"].update(ratio_local=1))
    message = _error(collector.load, path)
    assert (
        f"{path}: sampling.head.ratio_local: unknown key; got 'ratio_local', expected one of sampler, ratio"
        in (message)
    )


def test_collector_head_ratio_out_of_range(tmp_path: Path) -> None:
    path = _edited(
        tmp_path, paths.COLLECTOR_SOURCE, lambda r: r["sampling"]["head"]["ratio"].update(kubernetes=10)
    )
    message = _error(collector.load, path)
    assert f"{path}: sampling.head.ratio.kubernetes: got 10; expected less than or equal to 1" in message


def test_collector_missing_key(tmp_path: Path) -> None:
    path = _edited(tmp_path, paths.COLLECTOR_SOURCE, lambda r: r["sampling"]["tail"].pop("latency_slo"))
    message = _error(collector.load, path)
    assert f"{path}: sampling.tail.latency_slo: missing; expected this required key" in message


def test_head_sampler_argument_as_the_services_read_it() -> None:
    head = collector.HeadSampling.model_validate(
        {"sampler": "parentbased_traceidratio", "ratio": {"local": 1, "kubernetes": 0.1}}
    )
    assert (head.argument("local"), head.argument("kubernetes")) == ("1.0", "0.1")


def test_a_file_that_is_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "alert-routing.yaml"
    path.write_text("webhook_base_url: [unclosed\n", encoding="utf-8")
    assert f"{path}: not valid YAML" in _error(alert_routing.load, path)
