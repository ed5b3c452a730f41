"""Shared pytest fixtures: real PostgreSQL, Redis, tansu, Prometheus and Alertmanager on free ports.

Every server is started by the same code as `obsctl up` (obsctl.run.stack), in a temporary state
directory of this test session, and stopped when the session (or the factory's owner) ends.

    def test_something(postgres, redis_server, kafka_broker):
        postgres.dsn, postgres.port, postgres.create_database("x")   # -> DSN of a fresh database
        redis_server.url
        kafka_broker.bootstrap                                        # "127.0.0.1:<port>"

    def test_db(fresh_database): ...        # DSN of an empty database for this test module
    def test_rules(prometheus_server): prom = prometheus_server(rule_files=[...], scrape_configs=[...])
    def test_routes(alertmanager_server): am = alertmanager_server(config_text)   # or config_file=
    def test_stack(local_stack): stack = local_stack(["postgres", "redis", "services"])
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from obsctl.run.stack.alertmanager import Alertmanager
from obsctl.run.stack.postgres import Postgres
from obsctl.run.stack.prometheus import Prometheus
from obsctl.run.stack.redis import Redis
from obsctl.run.stack.stack import Stack
from obsctl.run.stack.tansu import Tansu

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


@pytest.fixture(scope="session")
def postgres(stack_state_dir: Path) -> Iterator[Postgres]:
    """A fresh PostgreSQL cluster (trust auth on 127.0.0.1): .dsn, .port, .create_database(name)."""
    server = Postgres(stack_state_dir)
    server.start()
    yield server
    server.stop()


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
    server = Redis(stack_state_dir)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kafka_broker(stack_state_dir: Path) -> Iterator[Tansu]:
    """tansu (Kafka protocol, in-memory storage): .bootstrap ("127.0.0.1:<port>"), .port."""
    server = Tansu(stack_state_dir)
    server.start()
    yield server
    server.stop()


class _Factory:
    """Starts numbered instances of one server kind and stops all of them at the end."""

    def __init__(self, state_dir: Path, kind: str) -> None:
        self.state_dir = state_dir
        self.kind = kind
        self.started: list[Any] = []

    def name(self) -> str:
        return f"{self.kind}-{len(self.started) + 1}"

    def close(self) -> None:
        for server in reversed(self.started):
            server.stop()


@pytest.fixture(scope="session")
def prometheus_server(stack_state_dir: Path) -> Iterator[Callable[..., Prometheus]]:
    """Factory: prometheus_server(rule_files=..., rules_dir=..., scrape_configs=..., config_file=...,
    alertmanager_url=..., interval="5s") -> a running Prometheus (.url, .port, .query(expr)).

    Give either `config_file` (used as is) or the parts from which a config is rendered.
    """
    factory = _Factory(stack_state_dir, "prometheus")

    def start(**kwargs: Any) -> Prometheus:
        server = Prometheus(stack_state_dir, name=factory.name(), **kwargs)
        factory.started.append(server)
        server.start()
        return server

    yield start
    factory.close()


@pytest.fixture(scope="session")
def alertmanager_server(stack_state_dir: Path) -> Iterator[Callable[..., Alertmanager]]:
    """Factory: alertmanager_server(config_text=None, config_file=None) -> a running Alertmanager
    (.url, .port); clustering off. Without a config it routes everything to nowhere ("null" receiver).
    """
    factory = _Factory(stack_state_dir, "alertmanager")

    def start(config_text: str | None = None, config_file: Path | str | None = None) -> Alertmanager:
        server = Alertmanager(
            stack_state_dir, name=factory.name(), config_text=config_text, config_file=config_file
        )
        factory.started.append(server)
        server.start()
        return server

    yield start
    factory.close()


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
