"""Redis: redis-server on 127.0.0.1 and a free port, in memory only (no RDB, no AOF)."""

from __future__ import annotations

import shutil

import redis

from obsctl.run.stack import process
from obsctl.run.stack.process import ProcessRecord
from obsctl.run.stack.server import Server
from obsctl.run.stack.wait import StackError


def redis_binary() -> str:
    found = shutil.which("redis-server", path="/usr/local/bin:/usr/bin:/usr/sbin:/bin")
    if not found:
        raise StackError(
            "redis-server not found; run `make setup` or install the Debian package `redis-server`"
        )
    return found


class Redis(Server):
    name = "redis"
    start_timeout = 20.0

    def url_for(self, port: int) -> str:
        return f"redis://127.0.0.1:{port}/0"

    def env(self) -> dict[str, str]:
        return {"REDIS_URL": self.url}

    def launch(self, port: int) -> ProcessRecord:
        argv = [
            redis_binary(),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.data_dir),
            "--logfile",
            "",
        ]
        return process.spawn(self.name, argv, log=self.log_path)

    def ready(self) -> bool:
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
