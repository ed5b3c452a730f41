"""observability/collector.yaml: the collector's parameters per environment, its ports, exporter
queues and redaction rules, and every trace sampling setting (`sampling:`: the services' head
sampler and the collector's tail sampling)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from obsctl import paths
from obsctl.errors import StrictModel
from obsctl.generate.sources.read import load_model

# The environments a collector config is rendered for; head sampling has a ratio for each.
Environment = Literal["local", "kubernetes"]


class LocalMemory(StrictModel):
    limit_mib: int = Field(gt=0)
    spike_limit_mib: int = Field(gt=0)


class KubernetesMemory(StrictModel):
    limit_percentage: int = Field(gt=0, le=100)
    spike_limit_percentage: int = Field(gt=0, le=100)


# An environment variable name, as the collector's env provider accepts it.
EnvVar = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class PortVariables(StrictModel):
    """The variable that overrides each port of `ports:` (its value there is the default)."""

    otlp_grpc: EnvVar
    otlp_http: EnvVar
    span_metrics: EnvVar
    self_metrics: EnvVar
    health_check: EnvVar


class LocalEnvironment(StrictModel):
    listen_host: str
    port_variables: PortVariables
    traces_endpoint: str
    logs_endpoint: str
    memory: LocalMemory


class KubernetesEnvironment(StrictModel):
    listen_host: str
    jaeger_endpoint: str
    logs_endpoint: str
    memory: KubernetesMemory


class Environments(StrictModel):
    local: LocalEnvironment
    kubernetes: KubernetesEnvironment


class Ports(StrictModel):
    otlp_grpc: int = Field(gt=0, lt=65536)
    otlp_http: int = Field(gt=0, lt=65536)
    span_metrics: int = Field(gt=0, lt=65536)
    self_metrics: int = Field(gt=0, lt=65536)
    health_check: int = Field(gt=0, lt=65536)


class HeadRatio(StrictModel):
    local: float = Field(ge=0, le=1)
    kubernetes: float = Field(ge=0, le=1)


class HeadSampling(StrictModel):
    """The services' sampler: OTEL_TRACES_SAMPLER, and OTEL_TRACES_SAMPLER_ARG per environment."""

    sampler: Literal["traceidratio", "parentbased_traceidratio"]
    ratio: HeadRatio

    def argument(self, environment: Environment) -> str:
        """OTEL_TRACES_SAMPLER_ARG in `environment`: the ratio as Python writes a float (1.0, 0.1)."""
        return repr(float(getattr(self.ratio, environment)))


class TailSampling(StrictModel):
    # sloth_id of the SLO whose latency threshold makes a trace slow (checked against the SLOs
    # when the collector configs are generated: obsctl.generate.collector.source).
    latency_slo: str = Field(min_length=1)
    probabilistic_share_percent: float = Field(ge=0, le=100)
    decision_wait: str = Field(pattern=r"^[0-9]+(ms|s|m)$")
    num_traces: int = Field(gt=0)
    expected_new_traces_per_sec: int = Field(gt=0)


class Sampling(StrictModel):
    head: HeadSampling
    tail: TailSampling


class Export(StrictModel):
    queue_size: int = Field(gt=0)
    num_consumers: int = Field(gt=0)
    batch_flush_timeout: str = Field(pattern=r"^[0-9]+(ms|s)$")
    batch_max_items: int = Field(gt=0)
    retry_max_elapsed_time: str = Field(pattern=r"^[0-9]+(s|m|h)$")
    timeout: str = Field(pattern=r"^[0-9]+(ms|s)$")


class KeyRule(StrictModel):
    name: str
    why: str
    key_pattern: str


class MaskRule(StrictModel):
    name: str
    why: str
    pattern: str
    replacement: str


class HashRule(StrictModel):
    name: str
    why: str
    pattern: str
    prefix: str


class Redaction(StrictModel):
    delete_keys: tuple[KeyRule, ...] = Field(min_length=1)
    mask_values: tuple[MaskRule, ...] = ()
    hash_values: tuple[HashRule, ...] = ()


class CollectorFile(StrictModel):
    environments: Environments
    ports: Ports
    sampling: Sampling
    export: Export
    redaction: Redaction


def load(path: Path | None = None) -> CollectorFile:
    return load_model(path or paths.COLLECTOR_SOURCE, CollectorFile)


@lru_cache(maxsize=1)
def default() -> CollectorFile:
    return load()
