"""Helpers for the service tests: in-process apps on real servers, and services under gunicorn.

The PostgreSQL and Redis servers come from tests/conftest.py (`postgres`, `redis_server`,
`fresh_database`, `make_database`).

    app_env(service, DATABASE_URL=..., REDIS_URL=...)     env for an in-process create_app()
    run_gunicorn(service, env, workers=2) -> base URL     a real gunicorn, stopped after the test

Both use service_harness.TEST_SECRET as INTERNAL_AUTH_SECRET: sign in-process calls with
signed_client(app, caller) and calls to gunicorn with `auth=signed_as(caller)`.

Plain helpers (comparing /metrics with the catalog) are in service_harness.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from apps.common import db, internal_auth, redis_client
from apps.common.migrate import migrate
from tests.services.payment_harness import PaymentServices
from tests.services.service_harness import TEST_SECRET, free_port

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"


def _reset_clients() -> None:
    # apps.common keeps one pool / client per process, bound to the env of its first use; tests
    # of different services in one pytest process must not reuse each other's.
    if db._pool is not None:
        db._pool.close()
    db._pool = None
    redis_client._client = None


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set SERVICE_NAME and the given variables for an in-process app; reset shared clients."""

    def apply(service: str, **variables: str) -> None:
        _reset_clients()
        monkeypatch.setenv("SERVICE_NAME", service)
        monkeypatch.setenv(internal_auth.SECRET_VARIABLE, TEST_SECRET)
        monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)

    yield apply
    _reset_clients()


@pytest.fixture(scope="module")
def ledger_dsn(fresh_database: str) -> str:
    """A database of this module with every service's migrations applied."""
    migrate(fresh_database)
    return fresh_database


@pytest.fixture
def run_gunicorn(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Start `gunicorn -c apps/common/gunicorn_conf.py 'apps.<service>.app:create_app()'`."""
    started: list[subprocess.Popen[bytes]] = []

    def start(service: str, env: dict[str, str], workers: int | None = 2) -> str:
        """workers=None leaves the worker count to gunicorn_conf.py's per-service default."""
        port = free_port()
        full_env = {
            **os.environ,
            "SERVICE_NAME": service,
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / f"{service}-metrics"),
            internal_auth.SECRET_VARIABLE: TEST_SECRET,
            **env,
        }
        full_env.pop("WEB_CONCURRENCY", None)
        if workers is not None:
            full_env["WEB_CONCURRENCY"] = str(workers)
        log = (tmp_path / f"{service}.log").open("wb")
        proc = subprocess.Popen(
            [
                str(GUNICORN),
                "-c",
                "apps/common/gunicorn_conf.py",
                f"apps.{service}.app:create_app()",
                "--bind",
                f"127.0.0.1:{port}",
            ],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(
                    f"gunicorn for {service} exited: {(tmp_path / f'{service}.log').read_text()}"
                )
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    return url
            except requests.RequestException:  # not listening yet, or a worker still booting
                pass
            time.sleep(0.1)
        raise AssertionError(f"gunicorn for {service} did not answer /healthz within 30 s")

    yield start
    for proc in started:
        proc.terminate()
    for proc in started:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def payment_services(
    postgres: Any, redis_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PaymentServices]:
    """Payment tests: account, risk, channel and payment under gunicorn on one migrated database."""
    services = PaymentServices.start_all(postgres, redis_server, tmp_path_factory.mktemp("payment-services"))
    try:
        yield services
    finally:
        services.close()
