"""The collector's source of truth: observability/collector.yaml plus the two values it borrows.

The latency threshold for tail sampling comes from the payment-latency SLO (the `le` bucket of its
error_query in slos/gateway.yaml) and the probabilistic share from thresholds.yaml, so neither is
typed twice. Every problem names the file and field it came from.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from obsctl import paths
from obsctl.errors import ObsctlError, Problem, StrictModel

COLLECTOR_SOURCE = paths.OBSERVABILITY / "collector.yaml"
LATENCY_SLO_FILE = paths.SLOS / "gateway.yaml"
LATENCY_SLO_NAME = "payment-latency"

_LE_BUCKET = re.compile(r'\ble="([0-9.]+)"')


class LocalMemory(StrictModel):
    limit_mib: int = Field(gt=0)
    spike_limit_mib: int = Field(gt=0)


class KubernetesMemory(StrictModel):
    limit_percentage: int = Field(gt=0, le=100)
    spike_limit_percentage: int = Field(gt=0, le=100)


class LocalEnvironment(StrictModel):
    listen_host: str
    backend_endpoint: str
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


class TailSampling(StrictModel):
    decision_wait: str = Field(pattern=r"^[0-9]+(ms|s|m)$")
    num_traces: int = Field(gt=0)
    expected_new_traces_per_sec: int = Field(gt=0)


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
    release: str = Field(pattern=r"^v0\.[0-9]+\.[0-9]+$")
    environments: Environments
    ports: Ports
    tail_sampling: TailSampling
    export: Export
    redaction: Redaction


class CollectorSource(StrictModel):
    """Everything the generator needs, with the borrowed values resolved."""

    file: CollectorFile
    latency_threshold_ms: int
    probabilistic_share_percent: float


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ObsctlError([Problem(file=str(path), message="file not found")]) from exc
    except yaml.YAMLError as exc:
        raise ObsctlError([Problem(file=str(path), message=f"not valid YAML: {exc}")]) from exc


def _load_file(path: Path) -> CollectorFile:
    raw = _read_yaml(path)
    try:
        return CollectorFile.model_validate(raw)
    except ValidationError as exc:
        problems = [
            Problem(file=str(path), field=".".join(str(p) for p in err["loc"]), message=err["msg"])
            for err in exc.errors()
        ]
        raise ObsctlError(problems) from exc


def latency_threshold_ms(slo_file: Path = LATENCY_SLO_FILE, slo_name: str = LATENCY_SLO_NAME) -> int:
    """The `le` bucket of the latency SLO's error_query, in milliseconds."""
    raw = _read_yaml(slo_file) or {}
    for slo in raw.get("slos", []):
        if slo.get("name") != slo_name:
            continue
        query = ((slo.get("sli") or {}).get("events") or {}).get("error_query", "")
        buckets = set(_LE_BUCKET.findall(query))
        if len(buckets) != 1:
            raise ObsctlError(
                [
                    Problem(
                        file=str(slo_file),
                        obj=slo_name,
                        field="sli.events.error_query",
                        message=f'expected exactly one le="<seconds>" bucket, '
                        f"found {sorted(buckets) or 'none'}",
                    )
                ]
            )
        ms = Decimal(buckets.pop()) * 1000
        if ms != ms.to_integral_value() or ms <= 0:
            raise ObsctlError(
                [
                    Problem(
                        file=str(slo_file),
                        obj=slo_name,
                        field="sli.events.error_query",
                        message=f"latency bucket must be a positive whole number of ms, got {ms} ms",
                    )
                ]
            )
        return int(ms)
    raise ObsctlError([Problem(file=str(slo_file), obj=slo_name, message="latency SLO not found")])


def probabilistic_share_percent(thresholds_file: Path = paths.THRESHOLDS) -> float:
    raw = _read_yaml(thresholds_file) or {}
    value = (raw.get("tracing") or {}).get("probabilistic_share_percent")
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise ObsctlError(
            [
                Problem(
                    file=str(thresholds_file),
                    field="tracing.probabilistic_share_percent",
                    message=f"expected a number from 0 to 100, got {value!r}",
                )
            ]
        )
    return float(value)


def load(
    source: Path = COLLECTOR_SOURCE,
    slo_file: Path = LATENCY_SLO_FILE,
    thresholds_file: Path = paths.THRESHOLDS,
) -> CollectorSource:
    return CollectorSource(
        file=_load_file(source),
        latency_threshold_ms=latency_threshold_ms(slo_file),
        probabilistic_share_percent=probabilistic_share_percent(thresholds_file),
    )
