"""The whole runner (obsctl.run.stack.Stack and `obsctl up/down/status`), against a stand-in repository.

The stand-in (tests/stack/stand_in.py) has two tiny services (gateway, risk) in its own catalog,
a migration module and a seed module with the same entry points as the real ones, so these tests
prove the runner's contract (environment, migrations, seeding, stack.env, scrape jobs, idempotent
up, down stops only ours) apart from what the real services do. The collector runs the generated
collector/local.yaml, in front of Jaeger and VictoriaLogs.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests

from obsctl.run.stack import process
from obsctl.run.stack.process import ProcessRecord
from obsctl.run.stack.stack import Stack
from obsctl.run.stack.wait import wait_until
from tests.stack.stand_in import stand_in

FAKE_APP = """
import os
from flask import Flask, Response, jsonify

def create_app():
    app = Flask(__name__)

    @app.get("/readyz")
    def readyz():
        return "ok"

    @app.get("/env")
    def env():
        return jsonify(dict(os.environ))

    @app.get("/metrics")
    def metrics():
        return Response("fake_requests_total 1\\n", mimetype="text/plain")

    return app
"""

MIGRATE = """
import os, psycopg
with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
    conn.execute("CREATE TABLE IF NOT EXISTS seed_runs (id serial PRIMARY KEY)")
"""

SEED = """
import json, os, psycopg

with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
    conn.execute("INSERT INTO seed_runs DEFAULT VALUES")
print("seeding noise on stdout")
seed = {"api_key": "pk_demo", "api_secret": "sk_demo", "user_ids": ["u1", "u2"], "currency": "EUR"}
print(json.dumps(seed))
"""


@pytest.fixture(scope="module")
def fake_repo(tmp_path_factory: pytest.TempPathFactory):
    return stand_in(
        tmp_path_factory.mktemp("repo"),
        {"gateway": "from apps.fakeapp import create_app\n", "risk": "from apps.fakeapp import create_app\n"},
        calls={"gateway": ["risk"]},
        files={"apps/fakeapp.py": FAKE_APP, "apps/common/migrate.py": MIGRATE, "apps/seed.py": SEED},
    )


@pytest.fixture(scope="module")
def caller_env() -> Iterator[dict[str, str]]:
    """OTEL_* in the caller's environment reach the services; exporters off keeps the tests quiet."""
    values = {"OTEL_TRACES_SAMPLER_ARG": "0.5", "OTEL_TRACES_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    yield values
    for key, old in saved.items():
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


@pytest.fixture(scope="module")
def stack(fake_repo, caller_env: dict[str, str], state_dir_factory):
    repo, services = fake_repo
    stack = Stack(
        state_dir_factory(),
        repo=repo,
        catalog=services,
        service_env={"OTEL_RESOURCE_ATTRIBUTES": "test.run=1"},
    )
    stack.up(UP)
    yield stack
    stack.down()


UP = ["services", "otelcol", "prometheus", "alertmanager"]


def read_env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = shlex.split(value)[0] if value else ""
    return env


def test_stack_env_has_every_contract_variable(stack):
    env = read_env_file(stack.env_file)
    for key in (
        "GATEWAY_URL",
        "RISK_URL",
        "DATABASE_URL",
        "REDIS_URL",
        "KAFKA_BOOTSTRAP",
        "PROMETHEUS_URL",
        "ALERTMANAGER_URL",
        "JAEGER_URL",
        "LOGS_URL",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ):
        assert env[key], key
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == stack.server("otelcol").url
    assert requests.get(f"{env['JAEGER_URL']}/api/v3/services", timeout=5).status_code == 200
    assert requests.get(f"{env['LOGS_URL']}/health", timeout=5).status_code == 200
    assert env["DATABASE_URL"].endswith("/payments")
    assert env["DEMO_API_KEY"] == "pk_demo"
    assert env["DEMO_API_SECRET"] == "sk_demo"
    assert env["DEMO_USER_IDS"] == "u1,u2"
    assert env["DEMO_CURRENCY"] == "EUR"
    assert env == stack.env()
    assert requests.get(f"{env['GATEWAY_URL']}/readyz", timeout=5).status_code == 200


def test_services_get_the_documented_environment(stack):
    env = stack.env()
    gateway = requests.get(f"{env['GATEWAY_URL']}/env", timeout=5).json()
    risk = requests.get(f"{env['RISK_URL']}/env", timeout=5).json()
    assert gateway["SERVICE_NAME"] == gateway["OTEL_SERVICE_NAME"] == "gateway"
    assert risk["SERVICE_NAME"] == "risk"
    assert (gateway["REQUEST_BUDGET_MS"], risk["REQUEST_BUDGET_MS"]) == ("10000", "1000")
    assert gateway["RISK_URL"] == env["RISK_URL"]
    for key in ("DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP"):
        assert gateway[key] == env[key]
    # The services export to the stack's collector (started before them).
    assert gateway["OTEL_EXPORTER_OTLP_ENDPOINT"] == env["OTEL_EXPORTER_OTLP_ENDPOINT"]
    assert gateway["OTEL_EXPORTER_OTLP_PROTOCOL"] == "http/protobuf"
    assert gateway["OTEL_TRACES_SAMPLER"] == "parentbased_traceidratio"
    assert gateway["OTEL_TRACES_SAMPLER_ARG"] == "0.5"  # the caller's value wins over the default
    assert gateway["OTEL_RESOURCE_ATTRIBUTES"] == risk["OTEL_RESOURCE_ATTRIBUTES"] == "test.run=1"
    assert gateway["PROMETHEUS_MULTIPROC_DIR"] != risk["PROMETHEUS_MULTIPROC_DIR"]
    assert Path(gateway["PROMETHEUS_MULTIPROC_DIR"]).is_dir()
    assert (stack.state_dir / "logs" / "gateway.log").exists()


def test_up_twice_keeps_what_runs_and_seeds_once(stack):
    before = {name: server.pid for name, server in stack.running().items()}
    stack.up(UP)
    after = {name: server.pid for name, server in stack.running().items()}
    assert after == before
    assert set(before) >= {
        "postgres",
        "redis",
        "tansu",
        "jaeger",
        "victorialogs",
        "otelcol",
        "gateway",
        "risk",
        "webhook",
        "alertmanager",
        "prometheus",
    }
    with psycopg.connect(stack.env()["DATABASE_URL"]) as conn:
        assert conn.execute("SELECT count(*) FROM seed_runs").fetchone() == (1,)


def test_prometheus_scrapes_every_service_by_job(stack):
    prometheus = stack.server("prometheus")
    for job in ("gateway", "risk", "otel-collector", "otel-collector-spanmetrics", "prometheus"):
        assert wait_until(
            lambda job=job: prometheus.query(f'up{{job="{job}"}} == 1') != [], timeout=60, interval=0.5
        ), job


def test_alertmanager_notifications_reach_the_webhook_log(stack):
    alertmanager = stack.server("alertmanager")
    alert = {
        "labels": {"alertname": "StackSelfTest", "severity": "critical", "team": "edge", "job": "gateway"},
        "annotations": {"summary": "Self test."},
    }
    requests.post(f"{alertmanager.url}/api/v2/alerts", json=[alert], timeout=10).raise_for_status()
    webhook = stack.server("webhook")

    def delivered() -> bool:
        return any(
            a["labels"]["alertname"] == "StackSelfTest"
            for note in webhook.notifications()  # type: ignore[attr-defined]
            for a in note["payload"]["alerts"]
        )

    assert wait_until(delivered, timeout=120, interval=0.5)
    assert (stack.state_dir / "alerts.jsonl").exists()


def test_a_stopped_component_comes_back_on_its_port(stack):
    risk_url = stack.env()["RISK_URL"]
    assert stack.down(["risk"]) == ["risk"]
    assert "RISK_URL" not in stack.env()
    stack.up(["risk"])
    assert stack.env()["RISK_URL"] == risk_url


def test_a_killed_collector_comes_back_on_all_its_ports(stack):
    collector = stack.server("otelcol")
    before = (
        collector.url,
        collector.metrics_port,
        collector.span_metrics_port,
        collector.info_port("health"),
    )
    os.kill(collector.pid, signal.SIGKILL)
    assert wait_until(lambda: not stack.server("otelcol").running(), timeout=10)
    stack.up(["otelcol"])
    again = stack.server("otelcol")
    assert (again.url, again.metrics_port, again.span_metrics_port, again.info_port("health")) == before


def test_down_stops_only_processes_we_started(stack, tmp_path):
    # A stranger whose pid a stale record names must survive `down`.
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        forged = ProcessRecord(
            name="redis-9",
            pid=stranger.pid,
            cmdline=["/usr/bin/redis-server"],
            start_ticks=process.proc_start_ticks(stranger.pid) or 0,
            log=str(tmp_path / "x.log"),
        )
        forged.save(stack.run_dir)
        assert not process.is_ours(forged)
        running = stack.running()
        pids = [server.pid for server in running.values()]
        stopped = stack.down()
        assert set(stopped) == set(running)
        assert stranger.poll() is None  # untouched
        for pid in pids:
            assert not Path(f"/proc/{pid}").exists() or process.proc_start_ticks(pid) is None
        assert not stack.env_file.exists()
        assert stack.running() == {}
    finally:
        stranger.send_signal(signal.SIGKILL)
        stranger.wait()


def test_cli_up_status_down(tmp_path):
    state = tmp_path / "cli"
    obsctl = Path(sys.executable).parent / "obsctl"
    up = subprocess.run(
        [str(obsctl), "up", "--only", "redis", "--state-dir", str(state)], capture_output=True, text=True
    )
    assert up.returncode == 0, up.stderr
    assert "redis" in up.stdout and "ready" in up.stdout
    again = subprocess.run(
        [str(obsctl), "up", "--only", "redis", "--state-dir", str(state)], capture_output=True, text=True
    )
    assert "already running" in again.stdout
    status = subprocess.run(
        [str(obsctl), "status", "--state-dir", str(state)], capture_output=True, text=True
    )
    assert "running" in status.stdout
    down = subprocess.run([str(obsctl), "down", "--state-dir", str(state)], capture_output=True, text=True)
    assert down.returncode == 0 and "redis" in down.stdout
    assert Stack(state).running() == {}


def test_cli_rejects_unknown_components_clearly(tmp_path):
    obsctl = Path(sys.executable).parent / "obsctl"
    result = subprocess.run(
        [str(obsctl), "up", "--only", "postgress", "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "unknown component(s): postgress" in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_ends_a_command_like_ctrl_c_and_stops_what_it_started():
    """A benchmark terminated (a CI timeout, `kill`) while its stack runs stops that stack on its
    way out, as it does on Ctrl-C; SIGTERM's default action would leave the stack running."""
    import contextlib
    import shutil
    import tempfile

    import psutil

    # The bench's state directories go under TMPDIR; PostgreSQL (the `postgres` user when the
    # tests run as root) must be able to enter it, which pytest's own tmp_path does not allow.
    tmp_path = Path(tempfile.mkdtemp(prefix="obsctl-sigterm-"))
    tmp_path.chmod(0o755)
    obsctl = Path(sys.executable).parent / "obsctl"
    argv = [str(obsctl), "bench", "payments", "--only", "plain", "--rate", "5", "--duration", "30"]
    argv += ["--warmup", "300", "--no-search"]
    bench = subprocess.Popen(
        argv,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    started: list[psutil.Process] = []
    try:
        assert bench.stderr is not None
        for line in bench.stderr:
            if "warming up" in line:  # the stack is up and under load
                break
        else:
            raise AssertionError(f"the bench ended before its warm-up (exit {bench.wait()})")
        started += psutil.Process(bench.pid).children(recursive=True)
        assert {"gunicorn", "postgres", "redis-server"} <= {p.name() for p in started} | {
            Path(p.cmdline()[1]).name for p in started if len(p.cmdline()) > 1
        }
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=60) == 128 + signal.SIGTERM
        _gone, alive = psutil.wait_procs(started, timeout=10)
        assert alive == [], [p.cmdline() for p in alive]
        assert not list(tmp_path.glob("obsctl-bench-*")), "the bench's state directory is left behind"
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
        for process in started:  # a failure here leaves nothing running for the next test
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        shutil.rmtree(tmp_path, ignore_errors=True)
