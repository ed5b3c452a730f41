"""Each generated config against the pinned component table, and mutated copies that must fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from obsctl import paths
from obsctl.generate.collector import table, validate


def test_generated_configs_pass_the_table(configs: dict, pinned: table.Table) -> None:
    for name, config in configs.items():
        assert table.check_config(config, pinned) == [], name


def test_committed_configs_pass_table_and_rules() -> None:
    assert validate.check_generated() == []


def test_table_is_for_the_release_the_source_names(collector_source, pinned: table.Table) -> None:
    assert pinned.release == collector_source.file.release
    assert table.table_path(pinned.release).name == f"components-{pinned.release}.yaml"


def test_every_component_we_use_is_in_the_table(configs: dict, pinned: table.Table) -> None:
    used = {
        (kind, table.component_type(cid))
        for c in configs.values()
        for kind in table.KINDS
        for cid in c.get(kind, {})
    }
    assert {t for _, t in used} >= {"otlp", "memory_limiter", "transform", "span_metrics", "health_check"}
    for kind, ctype in used:
        assert pinned.spec(kind, ctype) is not None, (kind, ctype)


def test_snake_case_names_of_the_pinned_release(kubernetes: dict) -> None:
    processors = {table.component_type(p) for p in kubernetes["processors"]}
    exporters = {table.component_type(e) for e in kubernetes["exporters"]}
    assert {"k8s_attributes", "resource_detection"} <= processors
    assert {"k8sattributes", "resourcedetection"}.isdisjoint(processors)
    assert {"otlp_grpc", "otlp_http"} <= exporters
    assert "span_metrics" in kubernetes["connectors"]


def _set(config: dict[str, Any], dotted: list[Any], value: Any) -> None:
    node = config
    for key in dotted[:-1]:
        node = node[key]
    node[dotted[-1]] = value


def _rename(section: dict[str, Any], old: str, new: str) -> None:
    section[new] = section.pop(old)


# (description, mutation, expected fragment of the problem)
NEGATIVE = [
    (
        "unknown processor type",
        lambda c: c["processors"].__setitem__("redactor", {}),
        "unknown processor type 'redactor'",
    ),
    (
        "deprecated alias instead of the release's snake_case name",
        lambda c: _rename(c["processors"], "k8s_attributes", "k8sattributes"),
        "'k8sattributes' is a deprecated alias in v0.156.0; use 'k8s_attributes'",
    ),
    (
        "old otlp exporter name",
        lambda c: _rename(c["exporters"], "otlp_grpc/jaeger", "otlp/jaeger"),
        "'otlp' is a deprecated alias",
    ),
    (
        "unknown nested key in the exporter queue batch",
        lambda c: _set(c, ["exporters", "otlp_grpc/jaeger", "sending_queue", "batch", "max_items"], 10),
        "exporters.otlp_grpc/jaeger.sending_queue.batch.max_items: unknown key",
    ),
    (
        "unknown top-level key of a component",
        lambda c: _set(c, ["processors", "memory_limiter", "limit_gib"], 1),
        "processors.memory_limiter.limit_gib: unknown key",
    ),
    (
        "integer given as a string",
        lambda c: _set(c, ["processors", "tail_sampling", "num_traces"], "50000"),
        "processors.tail_sampling.num_traces: expected int",
    ),
    (
        "duration that Go cannot parse",
        lambda c: _set(c, ["processors", "tail_sampling", "decision_wait"], "10 seconds"),
        "processors.tail_sampling.decision_wait: expected duration",
    ),
    (
        "bool given as a string",
        lambda c: _set(c, ["exporters", "otlp_grpc/jaeger", "tls", "insecure"], "yes"),
        "exporters.otlp_grpc/jaeger.tls.insecure: expected bool",
    ),
    (
        "enum value the release does not know",
        lambda c: _set(c, ["connectors", "span_metrics", "histogram", "unit"], "us"),
        "connectors.span_metrics.histogram.unit: expected enum(ms|s)",
    ),
    (
        "policy type the release does not know",
        lambda c: _set(c, ["processors", "tail_sampling", "policies", 0, "type"], "errors"),
        "processors.tail_sampling.policies[0].type: expected enum(",
    ),
    (
        "list where a mapping is expected",
        lambda c: _set(c, ["receivers", "otlp", "protocols"], ["grpc", "http"]),
        "receivers.otlp.protocols: expected a mapping",
    ),
    (
        "statement that is not a string",
        lambda c: _set(
            c, ["processors", "transform/redact", "trace_statements", 0, "statements", 0], {"a": 1}
        ),
        "trace_statements[0].statements[0]: expected string",
    ),
    (
        "retry/queue keys on the pull-only prometheus exporter",
        lambda c: _set(c, ["exporters", "prometheus", "sending_queue"], {"enabled": True}),
        "exporters.prometheus.sending_queue: unknown key",
    ),
    (
        "unknown service telemetry key",
        lambda c: _set(c, ["service", "telemetry", "metrics", "address"], "0.0.0.0:8888"),
        "service.telemetry.metrics.address: unknown key",
    ),
    (
        "unknown key in a pipeline",
        lambda c: _set(c, ["service", "pipelines", "traces", "connectors"], ["span_metrics"]),
        "service.pipelines.traces.connectors: unknown key",
    ),
    (
        "unknown top-level section",
        lambda c: c.__setitem__("processor", {}),
        "processor: unknown top-level section",
    ),
]


@pytest.mark.parametrize(("what", "mutate", "expected"), NEGATIVE, ids=[n[0] for n in NEGATIVE])
def test_mutated_config_fails_the_table(
    kubernetes: dict, pinned: table.Table, what: str, mutate, expected: str
) -> None:
    mutate(kubernetes)
    problems = table.check_config(kubernetes, pinned)
    assert any(expected in p for p in problems), (what, problems)


def test_env_placeholders_are_accepted_for_typed_scalars(kubernetes: dict, pinned: table.Table) -> None:
    kubernetes["processors"]["tail_sampling"]["num_traces"] = "${env:NUM_TRACES:-50000}"
    assert table.check_config(kubernetes, pinned) == []


def test_a_bad_committed_file_fails_obsctl_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    collector_dir = tmp_path / "collector"
    collector_dir.mkdir()
    for name in ("local", "kubernetes"):
        config = yaml.safe_load((paths.COLLECTOR / f"{name}.yaml").read_text())
        if name == "kubernetes":
            config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] = "0.0.0.0:4317"
        (collector_dir / f"{name}.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setattr(paths, "COLLECTOR", collector_dir)
    monkeypatch.setattr(paths, "REPO", tmp_path)
    table.load.cache_clear()
    problems = validate.check_generated()
    table.load.cache_clear()
    assert problems == [
        "collector/kubernetes.yaml: receivers.otlp.protocols.grpc.endpoint: binds every interface "
        "('0.0.0.0:4317'); use ${env:MY_POD_IP}"
    ]


def test_obsctl_check_catches_a_weakened_redaction_rule(kubernetes: dict) -> None:
    statements = kubernetes["processors"]["transform/redact"]["trace_statements"][0]["statements"]
    statements[:] = [s for s in statements if "cvv" not in s]
    problems = validate.validate(kubernetes, "v0.156.0", kubernetes=True)
    assert "redaction: 'payment.card.cvv' survives in a span" in problems
