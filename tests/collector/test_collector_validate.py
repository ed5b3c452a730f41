"""`otelcol validate` of our collector distribution (the pinned release) on every generated config,
and on mutated copies it must refuse, with its own message. This is the check `obsctl check` runs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from obsctl import paths
from obsctl.generate.collector import render, source, validate


def _validate(otelcol: Path, config: dict[str, Any], tmp_path: Path, environment: str) -> list[str]:
    path = tmp_path / f"{environment}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, width=10_000))
    return validate.validate_errors(validate.run_validate(otelcol, path, validate.VALIDATE_ENV[environment]))


@pytest.mark.parametrize("environment", list(render.ENVIRONMENTS))
def test_the_committed_config_passes_validate(otelcol: Path, environment: str) -> None:
    proc = validate.run_validate(
        otelcol, paths.COLLECTOR / f"{environment}.yaml", validate.VALIDATE_ENV[environment]
    )
    assert proc.returncode == 0, proc.stderr


def test_the_obsctl_check_passes_on_the_committed_configs() -> None:
    assert validate.check_generated() == []


def test_the_built_collector_is_the_pinned_release(otelcol: Path) -> None:
    assert validate.collector_binary() == otelcol
    with pytest.raises(validate.CollectorUnavailable) as err:
        validate.collector_binary("v0.160.0")
    assert "is collector release 0.161.0, not v0.160.0, the one pinned in tools/versions.yaml" in str(
        err.value
    )


def test_the_check_fails_when_the_built_collector_differs_from_the_pin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(source, "release", lambda: "v0.162.0")
    (problem,) = validate.check_generated()
    assert problem.startswith("collector: ") and "not v0.162.0" in problem


def _statements(c: dict[str, Any]) -> list[str]:
    return c["processors"]["transform/redact"]["trace_statements"][0]["statements"]


def _without_named_contexts(c: dict[str, Any]) -> None:
    """The context-inferred form (no `context:`) the configs used before the release move."""
    transform = c["processors"]["transform/redact"]
    for group in transform["trace_statements"] + transform["log_statements"]:
        group.pop("context")


def _set_statement(c: dict[str, Any], statement: str) -> None:
    _statements(c)[0] = statement


Mutation = Callable[[dict[str, Any]], Any]

# (what, environment, mutation, a part of the collector's own message)
REFUSED: list[tuple[str, str, Mutation, str]] = [
    (
        "an unknown key",
        "kubernetes",
        lambda c: c["exporters"]["otlp_grpc/jaeger"]["sending_queue"]["batch"].__setitem__("max_items", 2048),
        "'queuebatch.BatchConfig' has invalid keys: max_items",
    ),
    (
        "an unknown key at the top of a component",
        "local",
        lambda c: c["receivers"]["otlp"].__setitem__("protocol", {}),
        "'otlpreceiver.Config' has invalid keys: protocol",
    ),
    (
        "an OTTL statement with a syntax error",
        "local",
        lambda c: _set_statement(c, 'delete_matching_keys(span.attributes, "(?i).*cvv.*"'),
        "processors::transform/redact: statement has invalid syntax",
    ),
    (
        "an OTTL function that does not exist",
        "kubernetes",
        lambda c: _set_statement(c, 'delete_matching_key(span.attributes, "(?i).*cvv.*")'),
        'undefined function "delete_matching_key"',
    ),
    (
        "an OTTL regex that RE2 cannot compile (a look-ahead)",
        "local",
        lambda c: _set_statement(c, 'delete_matching_keys(span.attributes, "(?i)(?!safe).*cvv.*")'),
        "error parsing regexp: invalid or unsupported Perl syntax: `(?!`",
    ),
    (
        "an OTTL path of another context",
        "local",
        lambda c: _set_statement(c, 'delete_matching_keys(log.attributes, "(?i).*cvv.*")'),
        'segment "log" from path "span.log.attributes" is not a valid path nor a valid OTTL keyword '
        "for the span context",
    ),
    (
        "an unknown OTTL context",
        "kubernetes",
        lambda c: c["processors"]["transform/redact"]["trace_statements"][0].__setitem__("context", "spam"),
        "'trace_statements[0].context' unknown context spam",
    ),
    (
        "the hash rule in the context-inferred form",
        "kubernetes",
        _without_named_contexts,
        'inferred context "span" does not support the enum symbol "SHA256"',
    ),
    (
        "tail sampling in a logs pipeline",
        "kubernetes",
        lambda c: c["service"]["pipelines"]["logs"]["processors"].append("tail_sampling"),
        'failed to create "tail_sampling" processor, in pipeline "logs": telemetry type is not supported',
    ),
    (
        "a spike limit above the limit",
        "kubernetes",
        lambda c: c["processors"]["memory_limiter"].__setitem__("spike_limit_percentage", 90),
        "'spike_limit_percentage' must be smaller than 'limit_percentage'",
    ),
    (
        "a pipeline naming an undefined processor",
        "local",
        lambda c: c["service"]["pipelines"]["logs"]["processors"].append("attributes/extra"),
        'references processor "attributes/extra" which is not configured',
    ),
    (
        "a connector only on the exporter side",
        "local",
        lambda c: c["service"]["pipelines"].pop("metrics/spans"),
        'connector "span_metrics" used as exporter in [traces] pipeline but not used in any supported '
        "receiver pipeline",
    ),
]


@pytest.mark.parametrize(("what", "environment", "mutate", "message"), REFUSED, ids=[r[0] for r in REFUSED])
def test_the_collector_refuses(
    otelcol: Path,
    configs: dict[str, dict[str, Any]],
    tmp_path: Path,
    what: str,
    environment: str,
    mutate: Mutation,
    message: str,
) -> None:
    config = copy.deepcopy(configs[environment])
    assert _validate(otelcol, config, tmp_path, environment) == []
    mutate(config)
    errors = _validate(otelcol, config, tmp_path, environment)
    assert any(message in e for e in errors), (what, errors)


def test_the_pipeline_policies_are_what_the_collector_does_not_check(
    otelcol: Path, kubernetes: dict[str, Any], tmp_path: Path
) -> None:
    """memory_limiter last and tail sampling before the redaction: valid for the collector, so only
    our rules (pipeline_rules) refuse them."""
    from obsctl.generate.collector import pipeline_rules

    intake = kubernetes["service"]["pipelines"]["traces"]["processors"]
    intake.append(intake.pop(0))
    kubernetes["service"]["pipelines"]["traces/sampled"]["processors"].remove("tail_sampling")
    intake.insert(0, "tail_sampling")
    assert _validate(otelcol, kubernetes, tmp_path, "kubernetes") == []
    problems = pipeline_rules.check_pipelines(kubernetes, kubernetes=True)
    assert (
        "service.pipelines.traces: memory_limiter must be the first processor (found tail_sampling)"
        in problems
    )
    assert any("tail_sampling runs before k8s_attributes" in p for p in problems)
