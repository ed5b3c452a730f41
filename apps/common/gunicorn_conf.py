"""gunicorn settings shared by every service (`gunicorn -c apps/common/gunicorn_conf.py ...`).

Threads inside a few processes: the services mostly wait on I/O. The OpenTelemetry SDK restarts its
span processor thread after fork; prometheus-client runs in multiprocess mode (see metrics.py).
"""

from __future__ import annotations

import gc
import os
import shutil
from pathlib import Path
from typing import Any

import catalog
from apps.common import logs
from apps.common.config import service_name
from apps.common.keepalive import SERVER_IDLE_S
from apps.common.metrics import mark_process_dead

bind = os.environ.get("BIND", "127.0.0.1:8000")
# A single_process service (the catalog) runs one worker with more threads, since that one process
# serves every request: the channel simulator keeps its state (fault switches, idempotency) in
# memory, and an injected timeout holds a thread until the caller's deadline has passed.
_DECLARED = catalog.default().services.get(service_name())
_SINGLE_PROCESS = _DECLARED is not None and _DECLARED.single_process
workers = int(os.environ.get("WEB_CONCURRENCY", "1" if _SINGLE_PROCESS else "2"))
# gthread, with each request read whole in the event loop before a thread is given to it: slow or
# stalled clients cost a socket, not a thread (apps/common/gunicorn_worker.py; REQUEST_READ_TIMEOUT_S).
worker_class = "apps.common.gunicorn_worker.BufferedThreadWorker"
threads = int(os.environ.get("WEB_THREADS", "32" if _SINGLE_PROCESS else "8"))
timeout = int(os.environ.get("WORKER_TIMEOUT_S", "30"))
# Idle keep-alive connections are kept longer than any caller keeps one (apps/common/keepalive.py).
keepalive = SERVER_IDLE_S
# Shutdown must finish within this even when the OTLP endpoint is unreachable (exporter timeouts
# are bounded by OTEL_EXPORTER_OTLP_TIMEOUT / OTEL_BSP_EXPORT_TIMEOUT, set by the runner and chart).
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT_S", "10"))
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")


def on_starting(server: Any) -> None:
    # Samples of a previous run would otherwise be summed into this run's /metrics.
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True, exist_ok=True)
    # The master runs the OpenTelemetry SDK too (opentelemetry-instrument). Its JSON logs and the
    # SDK's diagnostics kept off the OTLP log export (see logs.py): otherwise, with the collector
    # down, its failed exports queue more exports and its own shutdown outlasts the workers' by
    # seconds.
    logs.configure(service_name())


def child_exit(server: Any, worker: Any) -> None:
    mark_process_dead(worker.pid)


def post_worker_init(worker: Any) -> None:
    # The worker has imported the app: what lives as long as the process now exists (modules, the
    # app, the SDK, the pools), about 100 000 objects. Each of Python's full collections walked all
    # of them, with every request thread of the process held up: 47 to 120 ms each under the demo's
    # traffic, about once per worker every three minutes (docs/performance.md). Frozen, they are
    # left out of every later collection; garbage made from here on is still collected, and what
    # was garbage now is collected first.
    gc.collect()
    gc.freeze()
