"""Our pipeline policies on the generated configs, and mutated copies that must break each rule.

The collector runs every one of these mutations (each is a valid config: tests/collector/
test_collector_validate.py proves a sample of them with the real binary), so only these rules stop them.
"""

from __future__ import annotations

from typing import Any

import pytest

from obsctl.generate.collector import pipeline_rules


def test_generated_configs_follow_every_rule(configs: dict) -> None:
    for name, config in configs.items():
        assert pipeline_rules.check_pipelines(config, kubernetes=name == "kubernetes") == [], name


def test_memory_limiter_is_first_everywhere(configs: dict) -> None:
    for config in configs.values():
        for pid, p in config["service"]["pipelines"].items():
            assert p["processors"][0] == "memory_limiter", pid


def test_every_push_exporter_retries_queues_and_batches(configs: dict) -> None:
    for config in configs.values():
        for eid, body in config["exporters"].items():
            if pipeline_rules.component_type(eid) in pipeline_rules.PULL_EXPORTERS:
                continue
            assert body["retry_on_failure"]["enabled"] is True
            assert body["sending_queue"]["enabled"] is True
            assert body["sending_queue"]["batch"]["flush_timeout"]


def test_kubernetes_listens_on_the_pod_ip_only(kubernetes: dict) -> None:
    addresses = dict(pipeline_rules._listen_addresses(kubernetes))
    assert len(addresses) == 5  # grpc, http, health_check, prometheus exporter, own telemetry
    guarded = "${env:MY_POD_IP:-MY_POD_IP-is-unset.invalid}:"
    assert all(a.startswith(guarded) for a in addresses.values()), addresses


def _pipes(c: dict[str, Any]) -> dict[str, Any]:
    return c["service"]["pipelines"]


def _move_tail_sampling_into_intake(c: dict[str, Any]) -> None:
    _pipes(c)["traces"]["processors"].insert(1, "tail_sampling")
    _pipes(c)["traces/sampled"]["processors"].remove("tail_sampling")


def _sample_before_span_metrics(c: dict[str, Any]) -> None:
    # sampled spans feed the span metrics: the RED metrics would count only the sampled share
    _pipes(c)["traces"]["exporters"] = ["forward/sampling"]
    _pipes(c)["traces/sampled"]["exporters"].append("span_metrics")


def _batch_not_last(c: dict[str, Any]) -> None:
    c["processors"]["batch"] = {}
    _pipes(c)["logs"]["processors"] = [
        "memory_limiter",
        "batch",
        "k8s_attributes",
        "resource_detection",
        "transform/redact",
    ]


def _no_batching(c: dict[str, Any]) -> None:
    del c["exporters"]["otlp_http/logs"]["sending_queue"]["batch"]


NEGATIVE = [
    (
        "defined component used nowhere",
        lambda c: c["exporters"].__setitem__("otlp_http/unused", {}),
        "exporters.otlp_http/unused: defined but used in no pipeline",
    ),
    (
        "memory_limiter not first",
        lambda c: _pipes(c)["logs"]["processors"].reverse(),
        "service.pipelines.logs: memory_limiter must be the first processor (found transform/redact)",
    ),
    (
        "pipeline without processors",
        lambda c: _pipes(c)["metrics/spans"].__setitem__("processors", []),
        "service.pipelines.metrics/spans: memory_limiter must be the first processor (found nothing)",
    ),
    (
        "tail sampling before k8s_attributes",
        _move_tail_sampling_into_intake,
        "service.pipelines.traces: tail_sampling runs before k8s_attributes",
    ),
    (
        "span metrics computed after tail sampling",
        _sample_before_span_metrics,
        "span metrics computed after tail sampling",
    ),
    (
        "k8s_attributes behind a connector (request context lost)",
        lambda c: _pipes(c)["traces/sampled"]["processors"].insert(1, "k8s_attributes"),
        "service.pipelines.traces/sampled: k8s_attributes needs the request context of a receiver",
    ),
    ("batch processor not last", _batch_not_last, "service.pipelines.logs: the batch processor must be last"),
    ("no batching at all", _no_batching, "exporter otlp_http/logs batches neither in its sending_queue"),
    (
        "exporter without retries",
        lambda c: c["exporters"]["otlp_grpc/jaeger"].pop("retry_on_failure"),
        "exporters.otlp_grpc/jaeger.retry_on_failure: must be set with enabled: true",
    ),
    (
        "exporter with its queue disabled",
        lambda c: c["exporters"]["otlp_http/logs"]["sending_queue"].__setitem__("enabled", False),
        "exporters.otlp_http/logs.sending_queue: must be set with enabled: true",
    ),
    (
        "health_check not enabled",
        lambda c: c["service"].__setitem__("extensions", []),
        "service.extensions: the health_check extension must be enabled",
    ),
    (
        "own telemetry not scrapable",
        lambda c: c["service"]["telemetry"]["metrics"].pop("readers"),
        "the collector's own metrics need a pull prometheus reader",
    ),
    (
        "redaction missing from logs",
        lambda c: _pipes(c)["logs"]["processors"].remove("transform/redact"),
        "service.pipelines.logs: data reaches ['otlp_http/logs'] without the redaction",
    ),
    (
        "receiver on 0.0.0.0",
        lambda c: c["receivers"]["otlp"]["protocols"]["http"].__setitem__("endpoint", "0.0.0.0:4318"),
        "receivers.otlp.protocols.http.endpoint: binds every interface",
    ),
    (
        "receiver with an empty host",
        lambda c: c["receivers"]["otlp"]["protocols"]["grpc"].__setitem__("endpoint", ":4317"),
        "receivers.otlp.protocols.grpc.endpoint: binds every interface",
    ),
    (
        "pod IP placeholder without a default (unset: every interface)",
        lambda c: c["extensions"]["health_check"].__setitem__("endpoint", "${env:MY_POD_IP}:13133"),
        "extensions.health_check.endpoint: ${env:MY_POD_IP} binds every interface when MY_POD_IP is unset",
    ),
    (
        "pod IP placeholder defaulting to a wildcard",
        lambda c: c["exporters"]["prometheus"].__setitem__("endpoint", "${env:MY_POD_IP:-0.0.0.0}:8889"),
        "exporters.prometheus.endpoint: ${env:MY_POD_IP:-0.0.0.0} binds every interface",
    ),
    (
        "a deprecated component name (the collector still loads it)",
        lambda c: c["exporters"].__setitem__("otlphttp/logs", c["exporters"].pop("otlp_http/logs")),
        "exporters.otlphttp/logs: 'otlphttp' is a deprecated alias; use 'otlp_http'",
    ),
    (
        "a defined processor no pipeline uses",
        lambda c: c["processors"].__setitem__("batch", {}),
        "processors.batch: defined but used in no pipeline",
    ),
    (
        "own telemetry on 0.0.0.0",
        lambda c: c["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"][
            "prometheus"
        ].__setitem__("host", "0.0.0.0"),
        "service.telemetry.metrics.readers[0].host: binds every interface",
    ),
]


@pytest.mark.parametrize(("what", "mutate", "expected"), NEGATIVE, ids=[n[0] for n in NEGATIVE])
def test_mutated_config_breaks_the_rule(kubernetes: dict, what: str, mutate, expected: str) -> None:
    mutate(kubernetes)
    problems = pipeline_rules.check_pipelines(kubernetes, kubernetes=True)
    assert any(expected in p for p in problems), (what, problems)


def test_localhost_is_fine_locally_but_not_in_kubernetes(local: dict) -> None:
    assert pipeline_rules.check_pipelines(local, kubernetes=False) == []
    problems = pipeline_rules.check_pipelines(local, kubernetes=True)
    assert any("expected the pod IP placeholder" in p for p in problems)
