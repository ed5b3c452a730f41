"""The whole local stack: which components exist, in what order they start, and what they export.

One piece of code serves `obsctl up/down/status`, the demo and the test harness:

    stack = Stack(".local")                 # the services of catalog.default(), or catalog=...
    stack.up(["postgres", "redis"])      # or None for everything; dependencies are added
    stack.env()                          # {"DATABASE_URL": ..., "REDIS_URL": ..., ...}
    stack.down()                         # stops exactly what is recorded under .local/run/

`up` keeps components that already run (so running it twice is safe), and writes
<state>/stack.env with every variable the running components export. Start order: the stores
(INFRA), the telemetry backends and then the collector (TELEMETRY), the services (which export
OTLP to that collector), the alerting components (ALERTING, Prometheus last: it scrapes the rest).
Before the services it runs `python -m apps.common.migrate` and, once per database,
`python -m apps.seed` in the repository.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from catalog import Catalog
from catalog import default as default_catalog
from obsctl import paths
from obsctl.errors import ObsctlError
from obsctl.generate.rules import layout
from obsctl.run.stack import alerting
from obsctl.run.stack.alertmanager import Alertmanager
from obsctl.run.stack.jaeger import Jaeger
from obsctl.run.stack.otelcol import Otelcol
from obsctl.run.stack.postgres import Postgres
from obsctl.run.stack.process import ProcessRecord
from obsctl.run.stack.prometheus import Prometheus, render_config
from obsctl.run.stack.redis import Redis
from obsctl.run.stack.server import Server
from obsctl.run.stack.services import Service, url_variable, venv_bin
from obsctl.run.stack.tansu import Tansu
from obsctl.run.stack.victorialogs import VictoriaLogs
from obsctl.run.stack.wait import StackError, free_port
from obsctl.run.stack.webhook import Webhook

INFRA = ("postgres", "redis", "tansu")
# The traces and logs backends, then the collector that sends to them.
TELEMETRY = ("jaeger", "victorialogs", "otelcol")
ALERTING = ("webhook", "alertmanager", "prometheus")
ALIASES = {
    "kafka": "tansu",
    "alerts-webhook": "webhook",
    "collector": "otelcol",
    "victoria-logs": "victorialogs",
    "logs": "victorialogs",
}
DATABASE = "payments"
# What a component needs running first; every service needs all of INFRA (the stack migrates and
# seeds the database before any service, and gives every service every store's address). The
# services do not need the collector (they run, and drop telemetry, without one), but export to it
# when it runs.
NEEDS: dict[str, tuple[str, ...]] = {"alertmanager": ("webhook",), "otelcol": ("jaeger", "victorialogs")}
_SIMPLE: dict[str, type[Server]] = {
    "postgres": Postgres,
    "redis": Redis,
    "tansu": Tansu,
    "jaeger": Jaeger,
    "victorialogs": VictoriaLogs,
    "otelcol": Otelcol,
    "webhook": Webhook,
    "alertmanager": Alertmanager,
    "prometheus": Prometheus,
}


class Reporter(Protocol):
    """Progress of `up`/`down`: the CLI prints it with rich; tests pass nothing."""

    def step(self, message: str) -> None: ...

    def component(self, name: str, url: str, seconds: float | None, kept: bool) -> None: ...


class _Silent:
    def step(self, message: str) -> None:
        pass

    def component(self, name: str, url: str, seconds: float | None, kept: bool) -> None:
        pass


@dataclass
class Status:
    name: str
    running: bool
    pid: int | None
    url: str | None
    log: str | None


class Stack:
    def __init__(
        self,
        state_dir: Path | str | None = None,
        *,
        repo: Path | None = None,
        reporter: Reporter | None = None,
        database: str = DATABASE,
        instrumented: bool = True,
        service_env: dict[str, str] | None = None,
        catalog: Catalog | None = None,
        collector_config: Path | None = None,
    ) -> None:
        self.state_dir = Path(state_dir or paths.LOCAL).resolve()
        self.catalog = catalog or default_catalog()
        # Extra variables for every service, over everything else (e.g. a test's own OTLP endpoint).
        self.service_env = dict(service_env or {})
        # False starts the services without opentelemetry-instrument (the benchmark's baseline).
        self.instrumented = instrumented
        # The collector's config: collector/local.yaml (generated) unless a test names another.
        self.collector_config = collector_config
        self.repo = repo or paths.REPO
        self.run_dir = self.state_dir / "run"
        self.env_file = self.state_dir / "stack.env"
        self.reporter: Reporter = reporter or _Silent()
        self.database = database

    # -- names -----------------------------------------------------------------------------------

    def services(self) -> list[str]:
        """The catalog's services in start order (callees first)."""
        return list(self.catalog.start_order())

    def needs(self, name: str) -> tuple[str, ...]:
        return INFRA if name in self.catalog.services else NEEDS.get(name, ())

    def order(self) -> list[str]:
        """Every component this checkout can run, in start order."""
        return [*INFRA, *TELEMETRY, *self.services(), *ALERTING]

    def groups(self) -> dict[str, list[str]]:
        """The names `--only` accepts besides components: all, infra, telemetry, services, alerting."""
        return {
            "all": self.order(),
            "infra": list(INFRA),
            "telemetry": list(TELEMETRY),
            "services": self.services(),
            "alerting": list(ALERTING),
        }

    def resolve(self, names: Iterable[str] | None) -> list[str]:
        """Expand groups (see groups()) and aliases, add dependencies, sort in start order."""
        order = self.order()
        if names is None:
            return order
        groups = self.groups()
        wanted: set[str] = set()
        unknown = []
        for raw in names:
            name = ALIASES.get(raw.strip(), raw.strip())
            if not name:
                continue
            if name in groups:
                wanted.update(groups[name])
            elif name in order:
                wanted.add(name)
            else:
                unknown.append(name)
        if unknown:
            valid = ", ".join([*order, *groups, *ALIASES])
            raise ObsctlError(f"unknown component(s): {', '.join(unknown)}; expected some of: {valid}")
        for name in list(wanted):
            wanted.update(self.needs(name))
        for name in list(wanted):  # one level deeper: what those need (the collector's backends)
            wanted.update(self.needs(name))
        return [name for name in order if name in wanted]

    # -- attaching to components ---------------------------------------------------------------

    def server(self, name: str) -> Server:
        """The component `name`, attached to its running process when there is one."""
        if name in self.catalog.services:
            return Service(self.state_dir, name, repo=self.repo, catalog=self.catalog)
        base = name.split("-", 1)[0]  # named instances the test fixtures start: prometheus-2, webhook-x
        cls = _SIMPLE.get(base)
        if cls is None:
            raise ObsctlError(f"unknown component {name!r}; expected one of: {', '.join(self.order())}")
        if cls is Otelcol:
            return Otelcol(self.state_dir, name=name, config_file=self.collector_config)
        return cls(self.state_dir, name=name)

    def recorded(self) -> list[str]:
        """Names of every component with a pid record, in start order (unknown names last)."""
        names = [p.stem for p in self.run_dir.glob("*.json") if p.stem != "ports"]
        rank = {name: i for i, name in enumerate(self.order())}
        return sorted(names, key=lambda n: (rank.get(n, len(rank)), n))

    def running(self) -> dict[str, Server]:
        found = {}
        for name in self.recorded():
            try:
                server = self.server(name)
            except ObsctlError:
                continue
            if server.running():
                found[name] = server
        return found

    # -- up ------------------------------------------------------------------------------------

    def up(self, components: Iterable[str] | None = None) -> dict[str, str]:
        """Start the components (and what they need) unless they run; wait until ready; write stack.env."""
        names = self.resolve(components)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for name in (n for n in INFRA if n in names):
            self._start(self.server(name))
        if "postgres" in names:
            postgres = self.server("postgres")
            assert isinstance(postgres, Postgres)
            postgres.ensure_database(self.database)  # DATABASE_URL in stack.env names it
        for name in ("jaeger", "victorialogs"):
            if name in names:
                self._start(self.server(name))
        if "otelcol" in names:
            self._start_otelcol()
        services = [n for n in names if n in self.catalog.services]
        if services:
            self._start_services(services)
        if "webhook" in names:
            self._start(self.server("webhook"))
        if "alertmanager" in names:
            self._start_alertmanager()
        if "prometheus" in names:
            self._start_prometheus()
        return self.write_env()

    def _start(self, server: Server, port: int | None = None) -> None:
        kept = not server.start(port)
        self.reporter.component(server.name, server.url, server.ready_seconds, kept)

    def _start_services(self, services: list[str]) -> None:
        postgres = self.server("postgres")
        assert isinstance(postgres, Postgres)
        database_url = postgres.ensure_database(self.database)
        self._migrate(database_url)
        self._seed(postgres, database_url)
        ports = self._service_ports()
        stack_env = {
            "DATABASE_URL": database_url,
            "REDIS_URL": self.server("redis").url,
            "KAFKA_BOOTSTRAP": self.server("tansu").env()["KAFKA_BOOTSTRAP"],
            **{url_variable(name): f"http://127.0.0.1:{port}" for name, port in ports.items()},
            **self.service_env,
        }
        starting = [
            Service(
                self.state_dir,
                name,
                stack_env=stack_env,
                repo=self.repo,
                instrumented=self.instrumented,
                catalog=self.catalog,
                otel=self._collector_otel(),
            )
            for name in services
        ]
        self.reporter.step(f"starting services: {', '.join(services)}")
        # In parallel: each one mostly waits for its interpreter and gunicorn to come up.
        with ThreadPoolExecutor(max_workers=len(starting)) as pool:
            futures = {s.name: pool.submit(s.start, ports[s.name]) for s in starting}
            errors = []
            for service in starting:
                try:
                    kept = not futures[service.name].result()
                except StackError as exc:
                    errors.append(str(exc))
                    continue
                self.reporter.component(service.name, service.url, service.ready_seconds, kept)
        if errors:
            raise StackError("\n".join(errors))

    def _collector_otel(self) -> dict[str, str]:
        """The running collector's OTLP endpoint for the services (the caller's OTEL_* still win)."""
        collector = self.server("otelcol")
        return collector.env() if collector.running() else {}

    def _start_otelcol(self) -> None:
        jaeger = self.server("jaeger")
        logs = self.server("victorialogs")
        assert isinstance(jaeger, Jaeger) and isinstance(logs, VictoriaLogs)
        server = Otelcol(
            self.state_dir,
            config_file=self.collector_config,
            traces_url=jaeger.otlp_traces_url,
            logs_url=logs.otlp_logs_url,
        )
        self._start(server)

    def _service_ports(self) -> dict[str, int]:
        """The port of every service: its running port, its last port if free, else a new one."""
        ports: dict[str, int] = {}
        for name in self.services():
            server = self.server(name)
            port = server.port if server.running() else server._remembered_port()
            while port is None or port in ports.values():
                port = free_port()
            ports[name] = port
        return ports

    def _migrate(self, database_url: str) -> None:
        self.reporter.step("applying migrations (apps.common.migrate)")
        result = self._run_module("apps.common.migrate", [], database_url)
        if result.returncode != 0:
            raise StackError(
                f"migrations failed (python -m apps.common.migrate):\n{result.stdout}{result.stderr}"
            )

    def _seed(self, postgres: Postgres, database_url: str) -> None:
        """Seed the demo data once per database; the result (credentials, user ids) is kept next to
        the data, and stack.env exports it as DEMO_* variables."""
        seed_file = postgres.data_dir / "seed.json"
        if seed_file.exists():
            return
        self.reporter.step("seeding demo data (apps.seed)")
        seed = self.seed(database_url)
        seed_file.write_text(json.dumps(seed, indent=2) + "\n")

    def seed(self, database_url: str, *options: str) -> dict[str, Any]:
        """Run `python -m apps.seed [options]` against the database; its result (the last line of
        its output, JSON: merchant_id, api_key, api_secret, user_ids, currency)."""
        result = self._run_module("apps.seed", list(options), database_url)
        lines = result.stdout.strip().splitlines()
        try:
            if result.returncode != 0 or not lines:
                raise ValueError("no result")
            seed: dict[str, Any] = json.loads(lines[-1])
        except ValueError:
            raise StackError(
                f"seeding failed (python -m apps.seed):\n{result.stdout}{result.stderr}"
            ) from None
        return seed

    def _run_module(
        self, module: str, args: list[str], database_url: str
    ) -> subprocess.CompletedProcess[str]:
        """`python -m module args` in the repository with the virtualenv's interpreter, like the services."""
        return subprocess.run(
            [str(venv_bin(self.repo) / "python"), "-m", module, *args],
            cwd=self.repo,
            env={**os.environ, "DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            check=False,
        )

    def _start_alertmanager(self) -> None:
        webhook = self.server("webhook")
        config = alerting.alertmanager_config(webhook.url)
        server = Alertmanager(self.state_dir, config_text=config)
        if server.running() and server.write_config():
            server.reload()
            self.reporter.step("alertmanager: config changed, reloaded")
        self._start(server)

    def _start_prometheus(self) -> None:
        current = self.server("prometheus")
        port = current.port if current.running() else current._remembered_port() or free_port()
        running = self.running()
        services = {name: s.port for name, s in running.items() if name in self.catalog.services}
        collector = running.get("otelcol")
        collector_ports = (
            (collector.metrics_port, collector.span_metrics_port) if isinstance(collector, Otelcol) else None
        )
        alertmanager = self.server("alertmanager")
        config = render_config(
            scrape_configs=alerting.scrape_configs(services, port, collector=collector_ports),
            rule_files=layout.rule_files(),
            alertmanager_url=alertmanager.url if alertmanager.running() else None,
        )
        server = Prometheus(self.state_dir, config_text=config)
        if server.running():
            # Reload even when the config is unchanged: the rule files may have been regenerated.
            server.write_config()
            server.reload()
            self.reporter.step("prometheus: reloaded its config and rule files")
        self._start(server, port)

    # -- down, status, env ---------------------------------------------------------------------

    def down(self, components: Iterable[str] | None = None) -> list[str]:
        """Stop the given components (all recorded ones by default), callers first. Returns those stopped."""
        names = self.recorded() if components is None else self._resolve_for_down(components)

        # In waves, callers first, each wave in parallel: the services and alerting (a service's
        # graceful shutdown takes seconds, mostly flushing telemetry to the collector), then the
        # collector (flushing to its backends), then the backends; then the infrastructure, in
        # reverse start order.
        # (Named instances, `otelcol-2`, stop with their kind.)
        def kind(name: str) -> str:
            return name if name in self.catalog.services else name.split("-", 1)[0]

        waves = [
            [n for n in names if kind(n) not in {*INFRA, *TELEMETRY}],
            [n for n in names if kind(n) == "otelcol"],
            [n for n in names if kind(n) in TELEMETRY and kind(n) != "otelcol"],
        ]
        stopped: list[str] = []
        for wave in waves:
            if wave:
                with ThreadPoolExecutor(max_workers=len(wave)) as pool:
                    results = dict(zip(wave, pool.map(lambda n: self.server(n).stop(), wave), strict=True))
                stopped += [n for n in reversed(wave) if results[n]]
        for name in reversed([n for n in names if kind(n) in INFRA]):
            if self.server(name).stop():
                stopped.append(name)
        for name in stopped:
            self.reporter.step(f"stopped {name}")
        if self.running():
            self.write_env()
        else:
            self.env_file.unlink(missing_ok=True)
        return stopped

    def _resolve_for_down(self, components: Iterable[str]) -> list[str]:
        groups = self.groups()
        names: set[str] = set()
        for raw in components:
            name = ALIASES.get(raw, raw)
            names.update(groups.get(name, [name]))
        return [n for n in self.recorded() if n in names]

    def status(self) -> list[Status]:
        rows = []
        for name in dict.fromkeys([*self.order(), *self.recorded()]):
            record = ProcessRecord.load(self.run_dir, name)
            server = self.server(name)
            alive = server.running()
            rows.append(
                Status(
                    name=name,
                    running=alive,
                    pid=record.pid if record and alive else None,
                    url=record.url if record and alive else None,
                    log=record.log if record else None,
                )
            )
        return rows

    def env(self) -> dict[str, str]:
        """Every variable the running components export, plus the demo credentials from the seed."""
        running = self.running()
        env: dict[str, str] = {"STACK_STATE_DIR": str(self.state_dir)}
        for server in running.values():
            env.update(server.env())
        postgres = running.get("postgres")
        if isinstance(postgres, Postgres):
            env["DATABASE_URL"] = postgres.dsn_for(self.database)
            env.update(_demo_variables(postgres.data_dir / "seed.json"))
        return env

    def write_env(self) -> dict[str, str]:
        env = self.env()
        lines = ["# Written by `obsctl up`: the running local stack. Source it: set -a; . .local/stack.env"]
        lines += [f"{key}={shlex.quote(value)}" for key, value in sorted(env.items())]
        self.env_file.parent.mkdir(parents=True, exist_ok=True)
        self.env_file.write_text("\n".join(lines) + "\n")
        return env


def _demo_variables(seed_file: Path) -> dict[str, str]:
    try:
        seed: dict[str, Any] = json.loads(seed_file.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return seed_variables(seed)


def seed_variables(seed: dict[str, Any]) -> dict[str, str]:
    """DEMO_API_KEY, DEMO_API_SECRET, DEMO_USER_IDS (comma-separated), DEMO_CURRENCY, ... of a seed."""
    env = {}
    for key, value in seed.items():
        name = "DEMO_" + re.sub(r"\W+", "_", key).upper()
        if isinstance(value, list | tuple):
            env[name] = ",".join(str(v) for v in value)
        elif isinstance(value, str | int | float):
            env[name] = str(value)
    return env
