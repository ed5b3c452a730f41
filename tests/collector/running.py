"""Running the real collector in tests: our distribution (tools/versions.yaml `otelcol`) as a
subprocess on free ports, a second collector as the backend (OTLP in, the `file` exporter out), OTLP
data written as OTLP/JSON, and what the backend wrote read back.

OTLP/JSON is the protobuf JSON mapping: ids are hex, 64-bit integers are strings, attributes are
`{"key": ..., "value": {"stringValue": ...}}` lists. `attributes()` and `decode()` convert between
those lists and plain dicts.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from obsctl.generate.collector import validate

START_TIMEOUT_S = 30.0


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free on 127.0.0.1 right now."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def listening_hosts(port: int) -> set[str]:
    """The local addresses a TCP socket listens on at `port` ('0.0.0.0', '::', '127.0.0.1', ...),
    read from /proc/net/tcp and tcp6."""
    hosts = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state != "0A" or int(hex_port, 16) != port or len(address) != width:
                continue  # 0A: LISTEN
            raw = bytes.fromhex(address)
            # the kernel writes each 32-bit word in host (little-endian) order
            words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            family = socket.AF_INET if width == 8 else socket.AF_INET6
            hosts.add(socket.inet_ntop(family, words))
    return hosts


@dataclass
class Collector:
    """One collector process the test started (stopped by its own pid)."""

    name: str
    config: Path
    log: Path
    health_port: int | None
    process: subprocess.Popen[bytes]
    # Ports that must be listening too: the health check answers a few milliseconds before the
    # receivers have bound their ports.
    listen_ports: tuple[int, ...] = ()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def ready(self) -> bool:
        if self.health_port is None:
            return False
        try:
            healthy = requests.get(f"http://127.0.0.1:{self.health_port}/", timeout=1).status_code == 200
        except requests.RequestException:
            return False
        return healthy and all(listening_hosts(port) for port in self.listen_ports)

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"collector {self.name} exited with {self.process.returncode}:\n{self.output()[-4000:]}"
                )
            if self.ready():
                return
            time.sleep(0.1)
        raise AssertionError(f"collector {self.name} not healthy after {timeout} s:\n{self.output()[-4000:]}")

    def wait_exit(self, timeout: float = START_TIMEOUT_S) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"collector {self.name} still runs after {timeout} s") from None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start(
    binary: Path,
    name: str,
    config: Path | dict[str, Any],
    workdir: Path,
    env: dict[str, str],
    health_port: int | None = None,
    listen_ports: tuple[int, ...] = (),
) -> Collector:
    """Start a collector on `config` (a file, or a dict written to <workdir>/<name>.yaml)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if isinstance(config, dict):
        path = workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False, width=10_000))
    else:
        path = config
    log = workdir / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(binary), f"--config={path}"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=validate.clean_env(env),
            cwd=workdir,
        )
    return Collector(
        name=name, config=path, log=log, health_port=health_port, process=process, listen_ports=listen_ports
    )


@contextmanager
def running(
    binary: Path,
    name: str,
    config: Path | dict[str, Any],
    workdir: Path,
    env: dict[str, str],
    health_port: int,
    listen_ports: tuple[int, ...] = (),
) -> Iterator[Collector]:
    collector = start(binary, name, config, workdir, env, health_port, listen_ports)
    try:
        collector.wait_ready()
        yield collector
    finally:
        collector.stop()


# --- the backend: OTLP in, one file per signal out ------------------------------------------


@dataclass
class Sink:
    """A collector that writes every span and log record it receives to a file (OTLP/JSON lines)."""

    grpc_port: int
    http_port: int
    traces: Path
    logs: Path
    collector: Collector | None = field(default=None)

    @property
    def traces_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/v1/traces"

    @property
    def logs_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/v1/logs"

    @property
    def grpc_endpoint(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def spans(self) -> list[dict[str, Any]]:
        return [
            {**span, "service": resource["service"]}
            for resource in _resources(self.traces, "resourceSpans", "scopeSpans", "spans")
            for span in resource["items"]
        ]

    def log_records(self) -> list[dict[str, Any]]:
        return [
            {**record, "service": resource["service"]}
            for resource in _resources(self.logs, "resourceLogs", "scopeLogs", "logRecords")
            for record in resource["items"]
        ]


def sink_config(grpc_port: int, http_port: int, health_port: int, traces: Path, logs: Path) -> dict[str, Any]:
    def file(path: Path) -> dict[str, Any]:
        return {"path": str(path), "format": "json", "flush_interval": "100ms"}

    return {
        "extensions": {"health_check": {"endpoint": f"127.0.0.1:{health_port}"}},
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": f"127.0.0.1:{grpc_port}"},
                    "http": {"endpoint": f"127.0.0.1:{http_port}"},
                }
            }
        },
        "exporters": {"file/traces": file(traces), "file/logs": file(logs)},
        "service": {
            "extensions": ["health_check"],
            "telemetry": {"metrics": {"level": "none"}, "logs": {"level": "warn"}},
            "pipelines": {
                "traces": {"receivers": ["otlp"], "exporters": ["file/traces"]},
                "logs": {"receivers": ["otlp"], "exporters": ["file/logs"]},
            },
        },
    }


@contextmanager
def sink(binary: Path, workdir: Path) -> Iterator[Sink]:
    grpc_port, http_port, health_port = free_ports(3)
    out = Sink(grpc_port, http_port, workdir / "sink-traces.jsonl", workdir / "sink-logs.jsonl")
    config = sink_config(grpc_port, http_port, health_port, out.traces, out.logs)
    with running(binary, "sink", config, workdir, {}, health_port, (grpc_port, http_port)) as collector:
        out.collector = collector
        yield out


def _resources(path: Path, resources_key: str, scopes_key: str, items_key: str) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    found = []
    # The file exporter may be writing the last line: read complete lines only.
    for line in path.read_text().split("\n")[:-1]:
        if not line.strip():
            continue
        for resource in json.loads(line).get(resources_key, []):
            attrs = decode(resource.get("resource", {}).get("attributes", []))
            items = [
                {
                    **item,
                    "attributes": decode(item.get("attributes", [])),
                    "events": [
                        {**e, "attributes": decode(e.get("attributes", []))} for e in item.get("events", [])
                    ],
                }
                for scope in resource.get(scopes_key, [])
                for item in scope.get(items_key, [])
            ]
            found.append({"service": attrs.get("service.name"), "resource": attrs, "items": items})
    return found


def wait_for(what: str, probe: Any, timeout: float = 60.0, interval: float = 0.25) -> Any:
    """Poll `probe()` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# --- OTLP/JSON ----------------------------------------------------------------------------------


def value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, list | tuple):
        return {"arrayValue": {"values": [value(x) for x in v]}}
    if isinstance(v, dict):
        return {"kvlistValue": {"values": attributes(v)}}
    return {"stringValue": str(v)}


def attributes(values: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": value(v)} for k, v in values.items()]


def plain(v: dict[str, Any]) -> Any:
    """A plain Python value from an OTLP/JSON AnyValue."""
    if "stringValue" in v:
        return v["stringValue"]
    if "boolValue" in v:
        return v["boolValue"]
    if "intValue" in v:
        return int(v["intValue"])
    if "doubleValue" in v:
        return float(v["doubleValue"])
    if "arrayValue" in v:
        return [plain(x) for x in v["arrayValue"].get("values", [])]
    if "kvlistValue" in v:
        return decode(v["kvlistValue"].get("values", []))
    return None


def decode(attrs: list[dict[str, Any]]) -> dict[str, Any]:
    return {a["key"]: plain(a.get("value", {})) for a in attrs}


def new_trace_id() -> str:
    return os.urandom(16).hex()


def new_span_id() -> str:
    return os.urandom(8).hex()


def span(
    trace_id: str,
    name: str,
    *,
    start_ns: int,
    duration_ms: float,
    parent: str = "",
    span_id: str | None = None,
    kind: int = 2,
    error: bool = False,
    attrs: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "traceId": trace_id,
        "spanId": span_id or new_span_id(),
        "parentSpanId": parent,
        "name": name,
        "kind": kind,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(start_ns + int(duration_ms * 1_000_000)),
        "attributes": attributes(attrs or {}),
        "events": [
            {"timeUnixNano": str(start_ns), "name": e["name"], "attributes": attributes(e["attributes"])}
            for e in events or []
        ],
        "status": {"code": 2, "message": "failed"} if error else {"code": 1},
    }


def traces_request(service: str, spans: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": attributes({"service.name": service})},
                "scopeSpans": [{"scope": {"name": "tests.collector"}, "spans": spans}],
            }
        ]
    }


def log_record(body: Any, attrs: dict[str, Any], trace_id: str = "", span_id: str = "") -> dict[str, Any]:
    now = str(time.time_ns())
    return {
        "timeUnixNano": now,
        "observedTimeUnixNano": now,
        "severityNumber": 17,
        "severityText": "ERROR",
        "body": value(body),
        "attributes": attributes(attrs),
        "traceId": trace_id,
        "spanId": span_id,
    }


def logs_request(service: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceLogs": [
            {
                "resource": {"attributes": attributes({"service.name": service})},
                "scopeLogs": [{"scope": {"name": "tests.collector"}, "logRecords": records}],
            }
        ]
    }


def post(url: str, payload: dict[str, Any]) -> None:
    response = requests.post(url, json=payload, timeout=10)
    assert response.status_code == 200, (url, response.status_code, response.text[:500])


# --- collector/kubernetes.yaml, run here ----------------------------------------------------------


@dataclass(frozen=True)
class KubernetesPorts:
    otlp_grpc: int
    otlp_http: int
    span_metrics: int
    self_metrics: int
    health_check: int

    @classmethod
    def free(cls) -> KubernetesPorts:
        return cls(*free_ports(5))


def _with_port(endpoint: str, port: int) -> str:
    return f"{endpoint.rsplit(':', 1)[0]}:{port}"


def kubernetes_here(config: dict[str, Any], ports: KubernetesPorts) -> dict[str, Any]:
    """collector/kubernetes.yaml as it can run outside a cluster: every listener keeps its pod-IP
    placeholder but gets a free port (the fixed ports may be taken here), and k8s_attributes goes
    (it needs the Kubernetes API at start-up). Everything else, the tail sampling, span metrics and
    redaction included, is unchanged; the backends come from its ${env:...} placeholders."""
    out = json.loads(json.dumps(config))
    protocols = out["receivers"]["otlp"]["protocols"]
    protocols["grpc"]["endpoint"] = _with_port(protocols["grpc"]["endpoint"], ports.otlp_grpc)
    protocols["http"]["endpoint"] = _with_port(protocols["http"]["endpoint"], ports.otlp_http)
    health = out["extensions"]["health_check"]
    health["endpoint"] = _with_port(health["endpoint"], ports.health_check)
    prometheus = out["exporters"]["prometheus"]
    prometheus["endpoint"] = _with_port(prometheus["endpoint"], ports.span_metrics)
    reader = out["service"]["telemetry"]["metrics"]["readers"][0]["pull"]["exporter"]["prometheus"]
    reader["port"] = ports.self_metrics
    out["processors"].pop("k8s_attributes")
    for pipeline in out["service"]["pipelines"].values():
        pipeline["processors"] = [p for p in pipeline["processors"] if p != "k8s_attributes"]
    return out


def load_yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict), path
    return loaded
