"""PostgreSQL: a private cluster (initdb) in the state directory, on 127.0.0.1 and a free port.

initdb and postgres refuse to run as root. As root, both run as the `postgres` system user (the
Debian package creates it) through setpriv, and the data directory belongs to that user; as any
other user they run as that user. Authentication is `trust`, and only on 127.0.0.1: a development
and test cluster.

Durability is production's by default (fsync, synchronous_commit and full_page_writes on): a
commit the server acknowledged survives a crash of the server (SIGKILL) and of the machine, which
is what the chaos and durability tests check and what "an acknowledged payment is never lost"
rests on. A fast mode (the three off) is kept for tests that never crash the server and measure no
durability: `Postgres(..., durable=False)`, or OBSCTL_POSTGRES_DURABILITY=fast in the environment
for a whole run; docs/reliability.md says which tests may use it.
"""

from __future__ import annotations

import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from obsctl.run.stack import process
from obsctl.run.stack.process import ProcessRecord
from obsctl.run.stack.server import Server
from obsctl.run.stack.wait import StackError

SUPERUSER = "postgres"
# OBSCTL_POSTGRES_DURABILITY=fast turns durability off for clusters that do not ask for it explicitly.
DURABILITY_VARIABLE = "OBSCTL_POSTGRES_DURABILITY"
DURABLE_SETTINGS = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
# Only for tests that never crash the server: an acknowledged commit may be lost in a crash.
FAST_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
# Unix socket paths are limited to about 107 bytes; beyond that the server listens on TCP only.
MAX_SOCKET_DIR = 90


def bindir() -> Path:
    """The newest PostgreSQL server binaries: /usr/lib/postgresql/<n>/bin, else `pg_config --bindir`."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(re.sub(r"\D", "", Path(p).parent.parent.name) or 0),
    )
    if candidates:
        return Path(candidates[-1]).parent
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        found = Path(out.stdout.strip())
        if (found / "initdb").exists():
            return found
    raise StackError(
        "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin and `pg_config "
        "--bindir`); run `make setup` or install the Debian package `postgresql`"
    )


def run_as_user() -> str | None:
    """The system user the server runs as: `postgres` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SUPERUSER)
    except KeyError:
        raise StackError(
            "running as root, but there is no `postgres` system user to run PostgreSQL as; "
            "install the Debian package `postgresql` (it creates the user) or run as a normal user"
        ) from None
    return SUPERUSER


class Postgres(Server):
    name = "postgres"
    start_timeout = 60.0
    stop_timeout = 20.0
    stop_signal = signal.SIGINT  # "fast" shutdown: roll back open transactions, do not wait for clients
    signal_group = False

    # max_connections covers the services' pools (DB_POOL_MAX per worker of each service using the
    # database) plus concurrency tests. The durability settings are added by `durable`.
    base_settings = {
        "listen_addresses": "127.0.0.1",
        "max_connections": "300",
        "shared_buffers": "64MB",
        "log_min_messages": "warning",
        "log_line_prefix": "%m [%p] %d ",
    }

    def __init__(
        self, state_dir: Path | str, *, name: str | None = None, durable: bool | None = None
    ) -> None:
        """`durable`: True or False sets the mode; None (the default) is durable unless
        OBSCTL_POSTGRES_DURABILITY=fast. A test that measures durability passes True."""
        super().__init__(state_dir, name=name)
        if durable is None:
            durable = os.environ.get(DURABILITY_VARIABLE, "durable").strip().lower() != "fast"
        self.durable = durable

    @property
    def settings(self) -> dict[str, str]:
        return {**self.base_settings, **(DURABLE_SETTINGS if self.durable else FAST_SETTINGS)}

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "data"

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    def dsn_for(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def url_for(self, port: int) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/postgres"

    def env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.dsn}

    def prepare(self) -> None:
        user = run_as_user()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if user:
            _check_reachable(self.data_dir, user)
            shutil.chown(self.data_dir, user, user)
        if (self.pgdata / "PG_VERSION").exists():
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            str(bindir() / "initdb"),
            "-D",
            str(self.pgdata),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ]
        if not self.durable:
            argv.append("--no-sync")
        prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--"] if user else []
        result = subprocess.run(prefix + argv, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            shutil.rmtree(self.pgdata, ignore_errors=True)
            raise StackError(f"initdb failed in {self.pgdata}:\n{result.stdout}{result.stderr}")

    def launch(self, port: int) -> ProcessRecord:
        sockets = self.data_dir / "sockets"
        sockets.mkdir(exist_ok=True)
        user = run_as_user()
        if user:
            shutil.chown(sockets, user, user)
        socket_dirs = str(sockets) if len(str(sockets)) <= MAX_SOCKET_DIR else ""
        argv = [str(bindir() / "postgres"), "-D", str(self.pgdata), "-p", str(port)]
        argv += ["-c", f"unix_socket_directories={socket_dirs}"]
        for key, value in self.settings.items():
            argv += ["-c", f"{key}={value}"]
        # The server inherits our environment; keep locale and PG* variables from leaking in.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C", "LC_ALL": "C"}
        record = process.spawn(self.name, argv, log=self.log_path, env=env, user=user)
        record.info["pgdata"] = str(self.pgdata)
        return record

    def ready(self) -> bool:
        with psycopg.connect(self.dsn, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True

    # -- helpers for tests and seeding ----------------------------------------------------------

    def create_database(self, name: str) -> str:
        """Create an empty database (dropping one of that name first) and return its DSN."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn_for(name)

    def ensure_database(self, name: str) -> str:
        """Create the database unless it exists (keeps its data); return its DSN."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.dsn_for(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _check_reachable(directory: Path, user: str) -> None:
    """The server user must be able to reach the data directory: every parent needs o+x (or the user's)."""
    uid = pwd.getpwnam(user).pw_uid
    for parent in directory.resolve().parents:
        st = parent.stat()
        if st.st_uid == uid:
            continue
        if not st.st_mode & 0o001:
            raise StackError(
                f"PostgreSQL runs as the `{user}` user, which cannot enter {parent} (mode "
                f"{oct(st.st_mode & 0o777)}); use a state directory whose parents are world-searchable "
                f"(chmod o+x {parent})"
            )
