"""Alertmanager: /usr/bin/prometheus-alertmanager with a given config, clustering off."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import requests

from obsctl.stack import process
from obsctl.stack.process import ProcessRecord
from obsctl.stack.server import Server
from obsctl.stack.wait import StackError

# Routes everything nowhere: an Alertmanager that only has to accept alerts (API tests).
NULL_CONFIG = """route:
  receiver: "null"
receivers:
  - name: "null"
"""


def alertmanager_binary() -> str:
    for name in ("prometheus-alertmanager", "alertmanager"):
        found = shutil.which(name, path="/usr/bin:/usr/local/bin:/usr/sbin")
        if found:
            return found
    raise StackError(
        "prometheus-alertmanager not found; run `make setup` or install the Debian package "
        "`prometheus-alertmanager`"
    )


class Alertmanager(Server):
    name = "alertmanager"
    start_timeout = 30.0

    def __init__(
        self,
        state_dir: Path | str,
        *,
        name: str | None = None,
        config_text: str | None = None,
        config_file: Path | str | None = None,
    ) -> None:
        super().__init__(state_dir, name=name)
        self.config_file = Path(config_file).resolve() if config_file else None
        self.config_text = config_text if config_text is not None or config_file else NULL_CONFIG

    @property
    def config_path(self) -> Path:
        return self.config_file or self.data_dir / "alertmanager.yml"

    def env(self) -> dict[str, str]:
        return {"ALERTMANAGER_URL": self.url}

    def write_config(self) -> bool:
        """Write the given config text; True when it changed (then reload a running instance)."""
        if self.config_text is None:
            return False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / "alertmanager.yml"
        if path.exists() and path.read_text() == self.config_text:
            return False
        path.write_text(self.config_text)
        return True

    def prepare(self) -> None:
        super().prepare()
        self.write_config()

    def launch(self, port: int) -> ProcessRecord:
        argv = [
            alertmanager_binary(),
            f"--config.file={self.config_path}",
            f"--storage.path={self.data_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # a single local instance: no gossip port
            "--log.level=warn",
        ]
        return process.spawn(self.name, argv, log=self.log_path, cwd=self.data_dir)

    def ready(self) -> bool:
        return requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200

    def reload(self) -> None:
        response = requests.post(f"{self.url}/-/reload", timeout=30)
        if response.status_code != 200:
            raise StackError(f"alertmanager reload failed: {response.text.strip()}")

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager currently holds (API v2)."""
        response = requests.get(f"{self.url}/api/v2/alerts", timeout=10)
        response.raise_for_status()
        return list(response.json())
