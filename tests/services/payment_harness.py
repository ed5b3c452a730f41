"""The money path for the payment tests: account, risk, channel and payment under real gunicorn.

One migrated database on the session's PostgreSQL, the session's Redis, and fast settings (short
channel latency and timeouts) so the money-path tests stay quick. Extra payment instances with
other settings can be started next to the default one (start_payment(name=..., ...)).

The services share one INTERNAL_AUTH_SECRET; the helpers sign each call as the service that
makes it on the real path (`as_caller`): payments and refunds as the gateway, fault switches as
the operator.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import requests
from prometheus_client.parser import text_string_to_metric_families

from apps.common import internal_auth
from apps.common.migrate import migrate
from tests.services.service_harness import free_port

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"
MERCHANT = "merchant-test"


class PaymentServices:
    CURRENCY = "EUR"

    def __init__(self, dsn: str, redis_url: str, log_dir: Path) -> None:
        self.dsn = dsn
        self.redis_url = redis_url
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.urls: dict[str, str] = {}
        self.internal_secret = secrets.token_hex(16)

    def as_caller(self, caller: str) -> internal_auth.InternalAuth:
        """requests auth signing as `caller` with these services' secret."""
        return internal_auth.InternalAuth(caller, self.internal_secret)

    @classmethod
    def start_all(cls, postgres: Any, redis_server: Any, log_dir: Path) -> PaymentServices:
        dsn = postgres.create_database("payment_money_path")
        migrate(dsn)
        services = cls(dsn, redis_server.url, log_dir)
        try:
            services.start("account", {})
            # Many payments per user: velocity and first-payment scoring are not what these test.
            services.start("risk", {"RISK_VELOCITY_MAX": "1000000", "RISK_FIRST_PAYMENT_POINTS": "0"})
            # One process: the simulator keeps faults and idempotency in memory.
            services.start("channel", {"CHANNEL_LATENCY_MS": "5", "CHANNEL_LATENCY_SIGMA": "0.3"}, workers=1)
            services.start_payment()
        except BaseException:
            services.close()
            raise
        return services

    def start(
        self,
        service: str,
        env: dict[str, str],
        workers: int = 2,
        name: str | None = None,
        ready_path: str = "/readyz",
        traced: bool = False,
    ) -> str:
        """Start one service; `traced` runs it under opentelemetry-instrument (no exporter)."""
        name = name or service
        port = free_port()
        full_env = {
            **os.environ,
            "SERVICE_NAME": service,
            "PROMETHEUS_MULTIPROC_DIR": str(self.log_dir / f"{name}-metrics"),
            "WEB_CONCURRENCY": str(workers),
            "WEB_THREADS": "16",
            "DB_POOL_MAX": "16",
            "GRACEFUL_TIMEOUT_S": "3",
            "DATABASE_URL": self.dsn,
            "REDIS_URL": self.redis_url,
            internal_auth.SECRET_VARIABLE: self.internal_secret,
            **env,
        }
        prefix: list[str] = []
        if traced:
            prefix = [str(GUNICORN.parent / "opentelemetry-instrument")]
            full_env.update(
                OTEL_SERVICE_NAME=service,
                OTEL_TRACES_EXPORTER="none",
                OTEL_METRICS_EXPORTER="none",
                OTEL_LOGS_EXPORTER="none",
            )
        log_path = self.log_dir / f"{name}.log"
        app = f"apps.{service}.app:create_app()"
        conf = "apps/common/gunicorn_conf.py"
        argv = [*prefix, str(GUNICORN), "-c", conf, app, "--bind", f"127.0.0.1:{port}"]
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=full_env,
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        until = time.monotonic() + 30
        while time.monotonic() < until:
            if proc.poll() is not None:
                raise AssertionError(f"gunicorn for {name} exited: {log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"{url}{ready_path}", timeout=3).status_code == 200:
                    self.urls[name] = url
                    return url
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{name} was not ready within 30 s: {log_path.read_text()[-3000:]}")

    def payment_env(self, **overrides: str) -> dict[str, str]:
        return {
            "ACCOUNT_URL": self.urls["account"],
            "RISK_URL": self.urls["risk"],
            "CHANNEL_URL": self.urls["channel"],
            "PAYMENT_CHANNEL_TIMEOUT_MS": "800",
            "PAYMENT_COMPENSATION_RESERVE_MS": "1000",
            # Fault tests must not leave an open breaker behind; the breaker test uses its own instance.
            "PAYMENT_BREAKER_FAIL_MAX": "50",
            "PAYMENT_BREAKER_RESET_S": "1",
            # Tests run the reconciler themselves, at known moments (one test covers the thread).
            "PAYMENT_RECONCILE_INTERVAL_S": "0",
            "PROVIDER_RECONCILE_INTERVAL_S": "0",
            # Also for an in-process reconciler (app_env(..., **payment_env())): it calls the services.
            internal_auth.SECRET_VARIABLE: self.internal_secret,
            **overrides,
        }

    def start_payment(
        self, name: str = "payment", workers: int = 2, ready_path: str = "/readyz", **overrides: str
    ) -> str:
        return self.start(
            "payment",
            self.payment_env(**overrides),
            workers=workers,
            name=name,
            ready_path=ready_path,
            traced=True,
        )

    @property
    def payment(self) -> str:
        return self.urls["payment"]

    # -- money -------------------------------------------------------------------------------

    def open_accounts(self, users: list[str], balance: int, currency: str = CURRENCY) -> None:
        from apps.account.seed import open_account

        with psycopg.connect(self.dsn) as conn:
            for user in users:
                open_account(conn, user, currency, balance)

    def new_users(self, count: int, balance: int) -> list[str]:
        users = [f"user-{uuid.uuid4().hex[:12]}" for _ in range(count)]
        self.open_accounts(users, balance)
        return users

    def balance(self, user: str, currency: str = CURRENCY) -> int:
        answer = requests.get(
            f"{self.urls['account']}/v1/accounts/{user}",
            params={"currency": currency},
            auth=self.as_caller("gateway"),
            timeout=5,
        )
        assert answer.status_code == 200, answer.text
        return int(answer.json()["balance"])

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn) as conn:
            return conn.execute(sql, params).fetchall()

    # -- channel faults ----------------------------------------------------------------------

    def set_faults(self, **switches: float) -> None:
        answer = requests.put(
            f"{self.urls['channel']}/v1/faults", json=switches, auth=self.as_caller("operator"), timeout=5
        )
        assert answer.status_code == 200, answer.text

    def reset_faults(self) -> None:
        requests.delete(
            f"{self.urls['channel']}/v1/faults", auth=self.as_caller("operator"), timeout=5
        ).raise_for_status()

    # -- calls -------------------------------------------------------------------------------

    def pay(
        self,
        user: str,
        amount: int,
        *,
        key: str | None = None,
        url: str | None = None,
        method: str = "card",
        merchant: str = MERCHANT,
        timeout: float = 15,
    ) -> requests.Response:
        body = {"user_id": user, "amount": amount, "currency": self.CURRENCY, "payment_method": method}
        headers = {"X-Merchant-Id": merchant, "Idempotency-Key": key or uuid.uuid4().hex}
        return requests.post(
            f"{url or self.payment}/v1/payments",
            json=body,
            headers=headers,
            auth=self.as_caller("gateway"),
            timeout=timeout,
        )

    def refund(
        self, payment_id: str, amount: int, *, merchant: str = MERCHANT, key: str | None = None
    ) -> requests.Response:
        headers = {"X-Merchant-Id": merchant}
        if key:
            headers["Idempotency-Key"] = key
        return requests.post(
            f"{self.payment}/v1/payments/{payment_id}/refunds",
            json={"amount": amount},
            headers=headers,
            auth=self.as_caller("gateway"),
            timeout=15,
        )

    def wait_channel_idle(self, timeout: float = 30) -> None:
        """Until the channel has no request in progress (a charge we gave up on may still be running)."""
        until = time.monotonic() + timeout
        while time.monotonic() < until:
            active = self.samples(self.urls["channel"]).get(
                ("http_server_active_requests", (("http_request_method", "POST"),)), 0
            )
            if active == 0:
                return
            time.sleep(0.05)
        raise AssertionError("the channel still has requests in progress")

    def reconcile(self, older_than: float = 0) -> str:
        """Run `python -m apps.payment.reconcile` once against these services; its summary line."""
        self.wait_channel_idle()
        return self.run_as_payment("apps.payment.reconcile", "--older-than", str(older_than))

    def run_as_payment(self, module: str, *args: str) -> str:
        """Run `python -m module args` with the payment service's environment; its output."""
        env = {**os.environ, "SERVICE_NAME": "payment", "DATABASE_URL": self.dsn, **self.payment_env()}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        run = subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        return run.stdout

    def samples(self, url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = requests.get(f"{url}/metrics", timeout=5).text
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }

    def close(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
