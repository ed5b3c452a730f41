"""The OpenTelemetry Collector (our distribution, built by `make setup` from tools/otelcol-builder.yaml)
running a generated config as is: collector/local.yaml by default, the file a user deploys.

The generated configs take their listen ports and backend endpoints from `${env:...}` placeholders
(docs/collector.md lists them); this module sets each one, so every collector of the stack and of
the tests listens on free ports of its own:

| variable | set to |
| --- | --- |
| `OTELCOL_OTLP_HTTP_PORT` | the OTLP/HTTP receiver's port (the URL: `OTEL_EXPORTER_OTLP_ENDPOINT`) |
| `OTELCOL_OTLP_GRPC_PORT` | the OTLP/gRPC receiver's port |
| `OTELCOL_SPANMETRICS_PORT` | the prometheus exporter's port (span metrics, scraped) |
| `OTELCOL_SELF_METRICS_PORT` | the collector's own telemetry (scraped) |
| `OTELCOL_HEALTH_PORT` | the health_check extension (the readiness check) |
| `OTLP_TRACES_ENDPOINT` | the OTLP/HTTP URL traces go to (Jaeger's, `/v1/traces` included) |
| `OTLP_LOGS_ENDPOINT` | the OTLP/HTTP URL logs go to (VictoriaLogs' `/insert/opentelemetry/v1/logs`) |

`env` adds or overrides variables (MY_POD_IP for the kubernetes config, ...). The caller's OTEL_*
variables are not passed on: the resource detector would read OTEL_RESOURCE_ATTRIBUTES.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import requests

from obsctl import paths
from obsctl.run.stack import process
from obsctl.run.stack.binaries import tool_binary
from obsctl.run.stack.process import ProcessRecord
from obsctl.run.stack.server import Server
from obsctl.run.stack.wait import StackError, port_open

# The config the stack runs unless told otherwise.
DEFAULT_CONFIG = paths.COLLECTOR / "local.yaml"

# Role (the key in the pid record's info) -> the placeholder that sets that listener's port.
PORT_VARIABLES = {
    "otlp_grpc": "OTELCOL_OTLP_GRPC_PORT",
    "span_metrics": "OTELCOL_SPANMETRICS_PORT",
    "metrics": "OTELCOL_SELF_METRICS_PORT",
    "health": "OTELCOL_HEALTH_PORT",
}
OTLP_HTTP_PORT = "OTELCOL_OTLP_HTTP_PORT"
TRACES_ENDPOINT = "OTLP_TRACES_ENDPOINT"
LOGS_ENDPOINT = "OTLP_LOGS_ENDPOINT"
# Without these the stack cannot give a collector its own ports or check that it is ready.
REQUIRED = (OTLP_HTTP_PORT, PORT_VARIABLES["health"])

_PLACEHOLDER = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)")


def placeholders(config_text: str) -> set[str]:
    """The variables a config reads through `${env:NAME}` or `${env:NAME:-default}`."""
    return set(_PLACEHOLDER.findall(config_text))


class Otelcol(Server):
    name = "otelcol"
    start_timeout = 60.0

    def __init__(
        self,
        state_dir: Path | str,
        *,
        name: str | None = None,
        config_file: Path | str | None = None,
        traces_url: str | None = None,
        logs_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(state_dir, name=name)
        self.config_file = Path(config_file or DEFAULT_CONFIG).resolve()
        self.traces_url = traces_url
        self.logs_url = logs_url
        self.extra_env = dict(env or {})

    def env(self) -> dict[str, str]:
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": self.url}

    @property
    def metrics_port(self) -> int:
        """The port of the collector's own metrics (otelcol_*)."""
        return self.info_port("metrics")

    @property
    def span_metrics_port(self) -> int:
        """The port of the prometheus exporter (traces_span_metrics_*)."""
        return self.info_port("span_metrics")

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.info_port('health')}/"

    def prepare(self) -> None:
        super().prepare()
        try:
            text = self.config_file.read_text()
        except OSError as exc:
            raise StackError(f"{self.name}: cannot read {self.config_file}: {exc}") from None
        missing = [v for v in REQUIRED if v not in placeholders(text) and v not in self.extra_env]
        if missing:
            raise StackError(
                f"{self.config_file} does not take {', '.join(missing)} from ${{env:...}} placeholders, "
                "so the stack cannot give the collector free ports: regenerate it (`make generate`)"
            )

    def launch(self, port: int) -> ProcessRecord:
        taken = {port}
        ports: dict[str, int] = {}
        for role in PORT_VARIABLES:
            ports[role] = self.extra_port(role, taken)
            taken.add(ports[role])
        variables = {OTLP_HTTP_PORT: str(port)}
        variables.update({PORT_VARIABLES[role]: str(p) for role, p in ports.items()})
        if self.traces_url:
            variables[TRACES_ENDPOINT] = self.traces_url
        if self.logs_url:
            variables[LOGS_ENDPOINT] = self.logs_url
        variables.update(self.extra_env)
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        env.update(variables)
        argv = [tool_binary("otelcol"), "--config", str(self.config_file)]
        record = process.spawn(self.name, argv, log=self.log_path, env=env, cwd=self.data_dir)
        record.info = {
            **{role: str(p) for role, p in ports.items()},
            "config": str(self.config_file),
            **{f"env.{k}": v for k, v in variables.items() if not k.endswith("_PORT")},
        }
        return record

    def ready(self) -> bool:
        answer = requests.get(self.health_url, timeout=2)
        return answer.status_code == 200 and port_open(self.port)
