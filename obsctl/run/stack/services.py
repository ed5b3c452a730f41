"""The services of the catalog, each as `opentelemetry-instrument gunicorn ...` on a free port.

Which services exist, their budgets and which of them run as one process come from the catalog
(observability/catalog.yaml); a service is started by its entry point, apps.<name>.app:create_app()
(as in the chart). The environment follows docs/architecture.md ("Service environment"); OTEL_*
variables come from the caller's environment over the stack's (the collector's endpoint when the
stack runs one) over local defaults.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import requests

from catalog import Catalog
from catalog import default as default_catalog
from obsctl import paths
from obsctl.generate.sources import collector as collector_source
from obsctl.run import internal_secret
from obsctl.run.stack import process
from obsctl.run.stack.process import ProcessRecord
from obsctl.run.stack.server import Server

# Local defaults; any OTEL_* variable in the caller's environment wins. The exporter timeouts match
# the chart's: an unreachable collector must neither stall requests nor outlast gunicorn's graceful
# shutdown (the Python OTLP/HTTP exporter reads OTEL_EXPORTER_OTLP_TIMEOUT in seconds; the batch
# processors' timeouts are milliseconds).
OTEL_DEFAULTS = {
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "OTEL_EXPORTER_OTLP_TIMEOUT": "2",
    "OTEL_BSP_EXPORT_TIMEOUT": "2000",
    "OTEL_BLRP_EXPORT_TIMEOUT": "2000",
    # Batches every 2 s (the SDK's defaults are 5 s for spans, 1 s for logs): each export is an
    # HTTP request per worker and signal, paid whatever the batch holds; at 0.5 s the exports of
    # the workers cost about a tenth of the 10%-sampled services' CPU (docs/performance.md).
    "OTEL_BSP_SCHEDULE_DELAY": "2000",
    "OTEL_BLRP_SCHEDULE_DELAY": "2000",
    # One export batch holds the whole queue: at shutdown the SDK sends what is queued batch by
    # batch, each attempt bounded by the exporter timeout, so four 512-span batches to a dead
    # collector would take 4 x 2 s for spans plus as much for logs, beyond the graceful timeout.
    "OTEL_BSP_MAX_QUEUE_SIZE": "2048",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2048",
    "OTEL_BLRP_MAX_QUEUE_SIZE": "2048",
    "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "2048",
    # Head sampling: observability/collector.yaml sampling.head, its local ratio.
    "OTEL_TRACES_SAMPLER": collector_source.default().sampling.head.sampler,
    "OTEL_TRACES_SAMPLER_ARG": collector_source.default().sampling.head.argument("local"),
    "OTEL_TRACES_EXPORTER": "otlp",
    "OTEL_LOGS_EXPORTER": "otlp",
    "OTEL_METRICS_EXPORTER": "none",
    # No exporter reads the SDK's meters (the services' metrics are prometheus-client's), yet every
    # Flask request and urllib3 call records its HTTP metrics into them: 16 us a hop
    # (docs/performance.md). `disabled` is pyproject's entry point for the SDK's own
    # disabling meter configurator; a missing one only logs a warning and keeps the default.
    "OTEL_PYTHON_METER_CONFIGURATOR": "disabled",
    "OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION": "true",
    # Every line the services write (they log at INFO) is also exported over OTLP; `warning` would
    # export only warnings and errors (the chart's otel.logsExportLevel; docs/performance.md).
    "OTEL_PYTHON_LOG_HANDLER_LEVEL": "info",
    # Probes and scrapes are not traffic: no trace for each of them.
    "OTEL_PYTHON_FLASK_EXCLUDED_URLS": "healthz,readyz,metrics",
    "OTEL_PROPAGATORS": "tracecontext,baggage",
}


def entry_point(service: str) -> str:
    """The service's WSGI app factory, as gunicorn (and the chart's Deployments) load it."""
    return f"apps.{service}.app:create_app()"


def venv_bin(repo: Path | None = None) -> Path:
    """The virtualenv's bin directory: the repository's .venv, else the running interpreter's."""
    candidate = (repo or paths.REPO) / ".venv" / "bin"
    if (candidate / "gunicorn").exists():
        return candidate
    return Path(sys.executable).parent


def url_variable(service: str) -> str:
    return f"{service.upper()}_URL"


def service_environment(
    name: str,
    *,
    stack_env: dict[str, str],
    multiproc_dir: Path,
    caller_env: dict[str, str] | None = None,
    catalog: Catalog | None = None,
    otel: dict[str, str] | None = None,
) -> dict[str, str]:
    """The full environment of one service process. `otel`: the stack's OTEL_* values (the running
    collector's OTLP endpoint), over OTEL_DEFAULTS and under the caller's OTEL_* variables."""
    declared = (catalog or default_catalog()).services[name]
    caller = dict(os.environ if caller_env is None else caller_env)
    env = {k: v for k, v in caller.items() if not k.startswith("OTEL_")}
    env.update(OTEL_DEFAULTS)
    env.update(otel or {})
    env.update({k: v for k, v in caller.items() if k.startswith("OTEL_")})
    env.update(stack_env)
    env.update(
        {
            "SERVICE_NAME": name,
            "OTEL_SERVICE_NAME": name,
            "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir),
            "REQUEST_BUDGET_MS": str(declared.budget_ms),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if declared.single_process:
        env["WEB_CONCURRENCY"] = "1"
    return env


class Service(Server):
    start_timeout = 90.0
    # gunicorn's graceful timeout (30 s by default) bounds a clean stop; a little more before SIGKILL.
    stop_timeout = 35.0

    def __init__(
        self,
        state_dir: Path | str,
        name: str,
        *,
        stack_env: dict[str, str] | None = None,
        repo: Path | None = None,
        instrumented: bool = True,
        catalog: Catalog | None = None,
        otel: dict[str, str] | None = None,
    ) -> None:
        super().__init__(state_dir, name=name)
        self.repo = repo or paths.REPO
        self.catalog = catalog or default_catalog()
        self.stack_env = dict(stack_env or {})
        self.otel = dict(otel or {})
        # False runs plain gunicorn (no opentelemetry-instrument): the benchmark's baseline.
        self.instrumented = instrumented

    def launch(self, port: int) -> ProcessRecord:
        multiproc = self.data_dir / "prometheus-multiproc"
        # prometheus-client's multiprocess files from an earlier run would be summed in: start empty.
        shutil.rmtree(multiproc, ignore_errors=True)
        multiproc.mkdir(parents=True)
        bin_dir = venv_bin(self.repo)
        argv = [str(bin_dir / "opentelemetry-instrument")] if self.instrumented else []
        argv.append(str(bin_dir / "gunicorn"))
        conf = self.repo / "apps" / "common" / "gunicorn_conf.py"
        if conf.is_file():
            argv += ["-c", str(conf)]
        argv += [entry_point(self.name), "--bind", f"127.0.0.1:{port}"]
        env = service_environment(
            self.name,
            stack_env=self.stack_env,
            multiproc_dir=multiproc,
            catalog=self.catalog,
            otel=self.otel,
        )
        if internal_secret.VARIABLE not in self.stack_env:  # the stack's own, shared by its services
            env[internal_secret.VARIABLE] = internal_secret.for_state_dir(self.state_dir)
        return process.spawn(self.name, argv, log=self.log_path, env=env, cwd=self.repo)

    def env(self) -> dict[str, str]:
        secret = self.stack_env.get(internal_secret.VARIABLE) or internal_secret.for_state_dir(self.state_dir)
        return {url_variable(self.name): self.url, internal_secret.VARIABLE: secret}

    def ready(self) -> bool:
        return requests.get(f"{self.url}/readyz", timeout=2).status_code == 200
