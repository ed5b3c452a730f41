"""Shared pytest fixtures: real PostgreSQL, Redis, tansu, Prometheus, Alertmanager, Jaeger,
VictoriaLogs and OpenTelemetry Collectors on free ports.

Every server is started by the same code as `obsctl up` (obsctl.run.stack), in a temporary state
directory of this test session, and stopped when the session (or the factory's owner) ends.

    def test_something(postgres, redis_server, kafka_broker):
        postgres.dsn, postgres.port, postgres.create_database("x")   # -> DSN of a fresh database
        redis_server.url
        kafka_broker.bootstrap                                        # "127.0.0.1:<port>"

    def test_db(fresh_database): ...        # DSN of an empty database for this test module
    def test_rules(prometheus_server): prom = prometheus_server(rule_files=[...], scrape_configs=[...])
    def test_routes(alertmanager_server): am = alertmanager_server(config_text=...)   # or config_file=
    def test_stack(local_stack): stack = local_stack(["postgres", "redis", "services"])

    def test_traces(jaeger_server): jaeger_server.otlp_endpoint, .trace(trace_id), .find_trace_ids(...)
    def test_logs(logs_server): logs_server.otlp_endpoint, .query("trace_id:=..."), .trace_logs(id)
    def test_config(otel_collector): col = otel_collector(config_file=..., env={"MY_POD_IP": ...})
        col.url (OTLP/HTTP base), col.metrics_port, col.span_metrics_port; it sends to jaeger_server
        and logs_server unless traces_url=/logs_url= name other OTLP URLs
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from obsctl.run.stack.alertmanager import Alertmanager
from obsctl.run.stack.jaeger import Jaeger
from obsctl.run.stack.otelcol import Otelcol
from obsctl.run.stack.postgres import Postgres
from obsctl.run.stack.prometheus import Prometheus
from obsctl.run.stack.redis import Redis
from obsctl.run.stack.server import Server
from obsctl.run.stack.stack import Stack
from obsctl.run.stack.tansu import Tansu
from obsctl.run.stack.victorialogs import VictoriaLogs
from tests import tool_stage

TEMP_PREFIX = "obsctl-test-"


def _world_searchable_tempdir(prefix: str) -> Path:
    # PostgreSQL runs as the `postgres` user when the tests run as root, so it must be able to
    # enter the directory: mkdtemp's 0700 is too strict. The owner file lets a later session clean
    # up after this one if it is killed before its fixtures stop their servers.
    path = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX + prefix))
    path.chmod(0o755)
    (path / "owner.pid").write_text(f"{os.getpid()}\n")
    return path


def _stop_and_remove(path: Path) -> None:
    """Stop whatever is still recorded in a state directory (only our processes), then delete it."""
    try:
        Stack(path).down()
    finally:
        shutil.rmtree(path, ignore_errors=True)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Clean up after earlier test sessions that were killed: their owner process is gone."""
    for path in Path(tempfile.gettempdir()).glob(TEMP_PREFIX + "*"):
        try:
            owner = int((path / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if not Path(f"/proc/{owner}").exists():
            _stop_and_remove(path)


_background_build: tool_stage.BackgroundBuild | None = None
_tools_ready: set[str] = set()


@pytest.hookimpl(trylast=True)  # after -k/-m deselection: the items that will really run
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Tests that need tests-stage tools run last; missing ones start building now (tests/tool_stage.py)."""
    global _background_build
    items[:] = tool_stage.run_last(items)
    order = tool_stage.stage_order()
    needed = sorted({n for i in items for n in tool_stage.tools_of(i)}, key=order.index)
    if not needed or _background_build is not None:
        return
    _background_build = tool_stage.start_background_build(needed)
    if _background_build is None:
        return
    waits: set[str] = set()
    for item in items:  # the first test to need a tool waits for its build
        names = set(tool_stage.tools_of(item)) & set(_background_build.pending)
        if names - waits:
            item.add_marker(pytest.mark.timeout(tool_stage.WAIT_TIMEOUT_S))
            waits |= names
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        marked = sum(1 for i in items if tool_stage.tools_of(i))
        reporter.write_line(
            f"not built yet: {', '.join(_background_build.pending)}; building in the background (nice 19, "
            f"log {tool_stage.log_path()}) while the others run; the {marked} tests that need them run last"
        )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    names = tool_stage.tools_of(item)
    if names and not _tools_ready.issuperset(names):
        tool_stage.wait_for(names, _background_build)
        _tools_ready.update(names)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _background_build is not None:
        _background_build.stop()


@pytest.fixture(scope="session")
def stack_state_dir() -> Iterator[Path]:
    """The session's state directory (data, logs, pid records of the servers below)."""
    path = _world_searchable_tempdir("session-")
    yield path
    _stop_and_remove(path)


@pytest.fixture(scope="session")
def state_dir_factory() -> Iterator[Callable[[], Path]]:
    """Factory: a new empty state directory PostgreSQL can use too (world-searchable); removed at the end."""
    made: list[Path] = []

    def make() -> Path:
        made.append(_world_searchable_tempdir("state-"))
        return made[-1]

    yield make
    for path in made:
        _stop_and_remove(path)


S = TypeVar("S", bound=Server)


def _running(server: S) -> Iterator[S]:
    """The body of a session fixture for one server: started, handed over, stopped at the end."""
    server.start()
    yield server
    server.stop()


def _server_factory(state_dir: Path, server_class: type[S]) -> Iterator[Callable[..., S]]:
    """The body of a factory fixture: each call starts one more server of the class (named
    <kind>-1, <kind>-2...) with the call's keyword arguments; all are stopped, newest first, at the end."""
    started: list[S] = []

    def start(**kwargs: Any) -> S:
        server = server_class(state_dir, name=f"{server_class.name}-{len(started) + 1}", **kwargs)
        started.append(server)
        server.start()
        return server

    yield start
    for server in reversed(started):
        server.stop()


@pytest.fixture(scope="session")
def postgres(stack_state_dir: Path) -> Iterator[Postgres]:
    """A fresh PostgreSQL cluster (trust auth on 127.0.0.1): .dsn, .port, .create_database(name)."""
    yield from _running(Postgres(stack_state_dir))


def database_name_for(key: str) -> str:
    """A valid, unique-enough database name for a test module or test id."""
    slug = re.sub(r"[^a-z0-9_]+", "_", key.lower()).strip("_")
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    return f"t_{slug[-40:]}_{digest}"


@pytest.fixture(scope="module")
def fresh_database(postgres: Postgres, request: pytest.FixtureRequest) -> Iterator[str]:
    """DSN of an empty database created for the requesting test module, dropped afterwards."""
    name = database_name_for(request.module.__name__)
    dsn = postgres.create_database(name)
    yield dsn
    postgres.drop_database(name)


@pytest.fixture
def make_database(postgres: Postgres, request: pytest.FixtureRequest) -> Iterator[Callable[..., str]]:
    """Factory: make_database(suffix="") -> DSN of a new empty database; all dropped after the test."""
    created: list[str] = []

    def make(suffix: str = "") -> str:
        name = database_name_for(f"{request.node.nodeid}:{suffix}:{len(created)}")
        created.append(name)
        return postgres.create_database(name)

    yield make
    for name in created:
        postgres.drop_database(name)


@pytest.fixture(scope="session")
def redis_server(stack_state_dir: Path) -> Iterator[Redis]:
    """redis-server on a free port, no persistence: .url ("redis://127.0.0.1:<port>/0"), .port."""
    yield from _running(Redis(stack_state_dir))


@pytest.fixture(scope="session")
def kafka_broker(stack_state_dir: Path) -> Iterator[Tansu]:
    """tansu (Kafka protocol, in-memory storage): .bootstrap ("127.0.0.1:<port>"), .port."""
    yield from _running(Tansu(stack_state_dir))


@pytest.fixture(scope="session")
def prometheus_server(stack_state_dir: Path) -> Iterator[Callable[..., Prometheus]]:
    """Factory: prometheus_server(rule_files=..., rules_dir=..., scrape_configs=..., config_file=...,
    alertmanager_url=..., interval="5s") -> a running Prometheus (.url, .port, .query(expr)).

    Give either `config_file` (used as is) or the parts from which a config is rendered.
    """
    yield from _server_factory(stack_state_dir, Prometheus)


@pytest.fixture(scope="session")
def alertmanager_server(stack_state_dir: Path) -> Iterator[Callable[..., Alertmanager]]:
    """Factory: alertmanager_server(config_text=None, config_file=None) -> a running Alertmanager
    (.url, .port); clustering off. Without a config it routes everything to nowhere ("null" receiver).
    """
    yield from _server_factory(stack_state_dir, Alertmanager)


@pytest.fixture(scope="session")
def jaeger_server(stack_state_dir: Path) -> Iterator[Jaeger]:
    """Jaeger v2, in-memory storage, shared by the session: .url (query API), .otlp_endpoint
    (OTLP/HTTP base), .otlp_traces_url, .trace(trace_id) -> [Span], .find_trace_ids(service, tags=...)."""
    yield from _running(Jaeger(stack_state_dir))


@pytest.fixture(scope="session")
def logs_server(stack_state_dir: Path) -> Iterator[VictoriaLogs]:
    """VictoriaLogs, shared by the session: .url, .otlp_endpoint (OTLP/HTTP base for logs),
    .otlp_logs_url, .query(logsql) -> [entry], .trace_logs(trace_id)."""
    yield from _running(VictoriaLogs(stack_state_dir))


@pytest.fixture(scope="session")
def otel_collector(
    stack_state_dir: Path, jaeger_server: Jaeger, logs_server: VictoriaLogs
) -> Iterator[Callable[..., Otelcol]]:
    """Factory: otel_collector(config_file=collector/local.yaml, env={...}, traces_url=...,
    logs_url=...) -> a running collector of our build (otelcol-1, otelcol-2, ...) on free ports.

    Its ports come from the config's `${env:...}` placeholders (obsctl/run/stack/otelcol.py);
    `env` sets or overrides any variable. Traces go to jaeger_server and logs to logs_server
    unless traces_url / logs_url name other OTLP/HTTP URLs. Stopped at session end (or .stop()).
    """

    def start(**kwargs: Any) -> Otelcol:
        kwargs.setdefault("traces_url", jaeger_server.otlp_traces_url)
        kwargs.setdefault("logs_url", logs_server.otlp_logs_url)
        return factory(**kwargs)

    generator = _server_factory(stack_state_dir, Otelcol)
    factory = next(generator)
    yield start
    next(generator, None)


@pytest.fixture(scope="session")
def local_stack() -> Iterator[Callable[..., Stack]]:
    """Factory: local_stack(["postgres", "redis", "tansu", "services", ...]) -> a started Stack in its
    own state directory (stack.env(), stack.server(name)); every stack is stopped at session end.
    """
    stacks: list[tuple[Stack, Path]] = []

    def start(components: list[str] | None = None, **kwargs: Any) -> Stack:
        state = _world_searchable_tempdir("stack-")
        stack = Stack(state, **kwargs)
        stacks.append((stack, state))
        stack.up(components)
        return stack

    yield start
    for stack, state in reversed(stacks):
        stack.down()
        if not os.environ.get("OBSCTL_KEEP_TEST_STATE"):
            _stop_and_remove(state)
