"""Helpers for the service tests: compare /metrics with the catalog, drive every gunicorn worker."""

from __future__ import annotations

import io
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.wrappers import Request

import catalog
from apps.common import internal_auth

# The INTERNAL_AUTH_SECRET of in-process apps (app_env sets it) and of the gunicorn services the
# run_gunicorn fixture starts.
TEST_SECRET = "internal-secret-for-tests"


class SignedClient(FlaskClient):
    """A Flask test client whose requests carry the internal token, signed as `caller` (a service
    that calls the app on the real path) with TEST_SECRET."""

    def __init__(self, *args: Any, caller: str = "payment", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.caller = caller

    def _request_from_builder_args(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Request:
        request = super()._request_from_builder_args(args, kwargs)
        environ = request.environ
        body = request.get_data()
        environ["wsgi.input"] = io.BytesIO(body)  # read for the digest: the app reads it again
        environ[f"HTTP_{internal_auth.HEADER.upper().replace('-', '_')}"] = internal_auth.token(
            TEST_SECRET,
            self.caller,
            environ["REQUEST_METHOD"],
            environ["REQUEST_URI"],
            body,
            merchant_id=environ.get("HTTP_X_MERCHANT_ID"),
            idempotency_key=environ.get("HTTP_IDEMPOTENCY_KEY"),
        )
        return request


def signed_client(app: Flask, caller: str = "payment") -> FlaskClient:
    """The app's test client, signing every request as `caller`."""
    app.test_client_class = SignedClient
    return app.test_client(caller=caller)


def signed_as(caller: str) -> internal_auth.InternalAuth:
    """requests auth signing as `caller` with TEST_SECRET (services started by run_gunicorn)."""
    return internal_auth.InternalAuth(caller, TEST_SECRET)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


MetricShape = dict[str, tuple[str, tuple[str, ...]]]


def catalog_shape(service: str) -> MetricShape:
    """The catalog's metrics of a service as the parser reports them (counters without _total)."""
    shape: MetricShape = {}
    for m in catalog.default().service_metrics(service):
        name = m.name.removesuffix("_total") if m.type == "counter" else m.name
        shape[name] = (m.type, tuple(sorted(m.labels)))
    return shape


def exposed_shape(text: str) -> MetricShape:
    """The families of a /metrics body with their label names (le of histograms left out)."""
    shape: MetricShape = {}
    for family in text_string_to_metric_families(text):
        labels: set[str] = set()
        for sample in family.samples:
            labels.update(k for k in sample.labels if k != "le")
        shape[family.name] = (family.type, tuple(sorted(labels)))
    return shape


def pids_with(kind: str, multiproc_dir: Path) -> set[int]:
    """Worker pids that wrote `kind` samples (counter, histogram, gauge_livesum, ...)."""
    pids = set()
    for path in multiproc_dir.glob(f"{kind}_*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit():
            pids.add(int(pid))
    return pids


def drive_until_every_worker_served(
    send: Callable[[], None], multiproc_dir: Path, workers: int = 2, batch: int = 16, batches: int = 30
) -> int:
    """Send concurrent batches until `workers` processes have observed an HTTP request; return sent.

    A worker writes histogram_<pid>.db on its first measured request, so the files say who served.
    """
    sent = 0
    with ThreadPoolExecutor(max_workers=batch) as pool:
        for _ in range(batches):
            list(pool.map(lambda _i: send(), range(batch)))
            sent += batch
            if len(pids_with("histogram", multiproc_dir)) >= workers:
                return sent
    raise AssertionError(f"after {sent} requests not every one of {workers} workers had served one")


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """Every sample of a /metrics body: {(sample name, sorted label pairs): value}."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
