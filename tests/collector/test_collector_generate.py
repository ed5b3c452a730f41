"""Generation: configs come from observability/, deterministically, with the latency SLO resolved."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from obsctl import paths
from obsctl.errors import ObsctlError
from obsctl.generate import artifacts
from obsctl.generate.collector import build, render, source


def test_generation_is_deterministic_and_committed() -> None:
    first, second = build.generate(), build.generate()
    assert first == second
    assert set(first) == {"collector/local.yaml", "collector/kubernetes.yaml"}
    for rel, content in first.items():
        assert content.startswith(f"# {paths.GENERATED_HEADER}\n")
        # `make check` runs `obsctl generate --check`: the committed files must equal the output.
        assert (paths.REPO / rel).read_text(encoding="utf-8") == content, f"{rel} drifted: run make collector"


def test_collector_area_is_in_the_ordered_list_with_its_check() -> None:
    assert "collector" in artifacts.by_name()
    assert any(name == "collector" for name, _ in artifacts.checks(["collector"]))


def test_drift_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = build.generate()
    for rel, content in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(content, encoding="utf-8")
    monkeypatch.setattr(paths, "REPO", tmp_path)
    assert artifacts.drift(artifacts.Generation(files, [])) == []
    edited = tmp_path / "collector/kubernetes.yaml"
    edited.write_text(edited.read_text().replace("sampling_percentage: 10.0", "sampling_percentage: 50.0"))
    assert artifacts.drift(artifacts.Generation(files, [])) == ["collector/kubernetes.yaml"]


def _slos_with(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of observability/slos/ with `old` replaced by `new` in gateway.yaml."""
    slos = tmp_path / "slos"
    shutil.copytree(paths.SLOS, slos)
    text = (slos / "gateway.yaml").read_text()
    assert old in text
    (slos / "gateway.yaml").write_text(text.replace(old, new))
    return slos


def _collector_with(tmp_path: Path, edit: Any) -> Path:
    """A copy of observability/collector.yaml, its parsed content changed by `edit`."""
    raw = yaml.safe_load(paths.COLLECTOR_SOURCE.read_text())
    edit(raw)
    path = tmp_path / "collector.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_latency_threshold_comes_from_the_latency_slo(tmp_path: Path) -> None:
    src = source.load(slos=_slos_with(tmp_path, 'le="0.2"', 'le="0.35"'))
    assert src.latency_threshold_ms == 350
    policies = render.kubernetes(src)["processors"]["tail_sampling"]["policies"]
    latency = next(p for p in policies if p["type"] == "latency")
    assert latency["latency"]["threshold_ms"] == 350
    # The span-metric histogram gets a bucket at the threshold, so it can answer the SLO's question.
    assert "350ms" in render.kubernetes(src)["connectors"]["span_metrics"]["histogram"]["explicit"]["buckets"]


def test_default_threshold_and_share(collector_source: source.CollectorSource) -> None:
    assert collector_source.latency_threshold_ms == 200
    assert collector_source.file.sampling.tail.probabilistic_share_percent == 10


def test_probabilistic_share_comes_from_the_sampling_section(tmp_path: Path) -> None:
    edited = _collector_with(tmp_path, lambda c: c["sampling"]["tail"].update(probabilistic_share_percent=25))
    src = source.load(edited)
    policies = render.kubernetes(src)["processors"]["tail_sampling"]["policies"]
    assert {p["type"]: p for p in policies}["probabilistic"]["probabilistic"]["sampling_percentage"] == 25


def test_tail_sampling_keeps_errors_slow_and_a_share(kubernetes: dict) -> None:
    policies = {p["type"]: p for p in kubernetes["processors"]["tail_sampling"]["policies"]}
    assert policies["status_code"]["status_code"]["status_codes"] == ["ERROR"]
    assert policies["latency"]["latency"]["threshold_ms"] == 200
    assert policies["probabilistic"]["probabilistic"]["sampling_percentage"] == 10
    assert "sample_on_first_match" not in kubernetes["processors"]["tail_sampling"]  # any policy keeps


def test_span_metric_names_match_the_catalog(configs: dict) -> None:
    """traces.span.metrics.calls / .duration (unit s) become these names in the prometheus exporter."""
    catalog = yaml.safe_load(paths.CATALOG.read_text())
    names = {m["name"] for m in catalog["external_components"]["otel-collector"]["metrics"]}
    assert {"traces_span_metrics_calls_total", "traces_span_metrics_duration_seconds"} <= names
    for config in configs.values():
        connector = config["connectors"]["span_metrics"]
        assert connector["namespace"] == "traces.span.metrics"
        assert connector["histogram"]["unit"] == "s"
        assert config["exporters"]["prometheus"].get("namespace") is None


def test_local_sends_traces_to_jaeger_and_logs_to_the_logs_backend(local: dict) -> None:
    exporters = local["exporters"]
    assert exporters["otlp_http/jaeger"]["traces_endpoint"] == (
        "${env:OTLP_TRACES_ENDPOINT:-http://localhost:14318/v1/traces}"
    )
    assert exporters["otlp_http/logs"]["logs_endpoint"] == (
        "${env:OTLP_LOGS_ENDPOINT:-http://localhost:9428/insert/opentelemetry/v1/logs}"
    )
    pipes = local["service"]["pipelines"]
    assert pipes["traces"]["exporters"] == ["span_metrics", "otlp_http/jaeger"]
    assert pipes["logs"]["exporters"] == ["otlp_http/logs"]
    assert pipes["metrics/spans"]["exporters"] == ["prometheus"]


def test_local_ports_come_from_the_environment_with_todays_defaults(local: dict) -> None:
    """The local stack runs collector/local.yaml unchanged on free ports (docs/collector.md)."""
    protocols = local["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "localhost:${env:OTELCOL_OTLP_GRPC_PORT:-4317}"
    assert protocols["http"]["endpoint"] == "localhost:${env:OTELCOL_OTLP_HTTP_PORT:-4318}"
    assert local["exporters"]["prometheus"]["endpoint"] == "localhost:${env:OTELCOL_SPANMETRICS_PORT:-8889}"
    assert local["extensions"]["health_check"]["endpoint"] == "localhost:${env:OTELCOL_HEALTH_PORT:-13133}"
    reader = local["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]
    assert reader == {
        "host": "localhost",
        "port": "${env:OTELCOL_SELF_METRICS_PORT:-8888}",
        # `_total` and unit suffixes on: the names the dashboards and alerts query
        # (test_collector_self_metrics.py scrapes them from the running collector).
        "without_units": False,
        "without_type_suffix": False,
    }


def test_kubernetes_ports_are_the_charts(kubernetes: dict) -> None:
    protocols = kubernetes["receivers"]["otlp"]["protocols"]
    assert [
        protocols["grpc"]["endpoint"].rsplit(":", 1)[1],
        protocols["http"]["endpoint"].rsplit(":", 1)[1],
    ] == [
        "4317",
        "4318",
    ]
    assert kubernetes["exporters"]["otlp_http/logs"]["logs_endpoint"] == (
        "${env:OTLP_LOGS_ENDPOINT:-http://victorialogs:9428/insert/opentelemetry/v1/logs}"
    )


def test_the_release_is_the_collector_tools_version(collector_source: source.CollectorSource) -> None:
    """One pin: the configs are written for the collector tools/versions.yaml builds."""
    from obsctl import tools

    assert collector_source.release == tools.load_table()["otelcol"].version == "v0.161.0"
    assert "release" not in yaml.safe_load(paths.COLLECTOR_SOURCE.read_text())
    for rel, content in build.generate().items():
        assert f"collector release {collector_source.release} " in content.splitlines()[1], rel


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda t: t.replace("limit_mib: 512", "limit_mib: lots"), "environments.local.memory.limit_mib"),
        (
            lambda t: t.replace("otlp_grpc: OTELCOL_OTLP_GRPC_PORT", "otlp_grpc: 4317-port"),
            "environments.local.port_variables.otlp_grpc",
        ),
        (lambda t: t.replace("    decision_wait: 10s\n", ""), "sampling.tail.decision_wait"),
        (lambda t: t + "\nunexpected: 1\n", "unexpected"),
    ],
)
def test_bad_source_names_file_and_field(tmp_path: Path, edit, field: str) -> None:
    bad = tmp_path / "collector.yaml"
    bad.write_text(edit(paths.COLLECTOR_SOURCE.read_text()))
    with pytest.raises(ObsctlError) as err:
        source.load(bad)
    assert str(bad) in str(err.value)
    assert field in str(err.value)


def test_latency_slo_without_a_bucket_is_a_clear_error(tmp_path: Path) -> None:
    slos = _slos_with(tmp_path, ',le="0.2"', "")
    with pytest.raises(ObsctlError) as err:
        source.load(slos=slos)
    message = str(err.value)
    assert str(paths.COLLECTOR_SOURCE) in message and "sampling.tail.latency_slo" in message
    assert "got 'gateway-payment-latency', an SLO without a latency threshold" in message
    assert (
        "expected the sloth_id of a latency SLO" in message
        and "notification-notification-delivery" in message
    )


def test_unknown_latency_slo_is_a_clear_error(tmp_path: Path) -> None:
    edited = _collector_with(tmp_path, lambda c: c["sampling"]["tail"].update(latency_slo="gateway-latency"))
    with pytest.raises(ObsctlError) as err:
        source.load(edited)
    message = str(err.value)
    assert f"{edited}: sampling.tail.latency_slo: got 'gateway-latency', no such SLO" in message
    assert "expected the sloth_id of a latency SLO" in message and "gateway-payment-latency" in message


def test_non_latency_slo_is_a_clear_error(tmp_path: Path) -> None:
    edited = _collector_with(
        tmp_path, lambda c: c["sampling"]["tail"].update(latency_slo="gateway-payment-availability")
    )
    with pytest.raises(
        ObsctlError, match="got 'gateway-payment-availability', an SLO without a latency threshold"
    ):
        source.load(edited)


def test_latency_threshold_must_be_whole_milliseconds(tmp_path: Path) -> None:
    slos = _slos_with(tmp_path, 'le="0.2"', 'le="0.0005"')
    with pytest.raises(ObsctlError) as err:
        source.load(slos=slos)
    message = str(err.value)
    assert "gateway.yaml: SLO gateway-payment-latency: " in message
    assert (
        "sli.events.error_query: got a latency threshold of 0.5 ms; expected a whole number of milliseconds"
        in message
    )


def test_share_out_of_range_is_a_clear_error(tmp_path: Path) -> None:
    edited = _collector_with(
        tmp_path, lambda c: c["sampling"]["tail"].update(probabilistic_share_percent=150)
    )
    with pytest.raises(ObsctlError) as err:
        source.load(edited)
    message = str(err.value)
    assert (
        f"{edited}: sampling.tail.probabilistic_share_percent: got 150; expected less than or equal to 100"
        in message
    )
