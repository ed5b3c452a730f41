"""Alertmanager 0.35 (the pinned build of tools/versions.yaml) with a given config, clustering off.
The build serves the API (/api/v2), not the web UI (tools/versions.yaml says why)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from obsctl.run.stack import process
from obsctl.run.stack.binaries import tool_binary
from obsctl.run.stack.configured import ConfiguredServer
from obsctl.run.stack.process import ProcessRecord

# Routes everything nowhere: an Alertmanager that only has to accept alerts (API tests).
NULL_CONFIG = """route:
  receiver: "null"
receivers:
  - name: "null"
"""


def alertmanager_binary() -> str:
    return tool_binary("alertmanager")


class Alertmanager(ConfiguredServer):
    config_name = "alertmanager.yml"
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

    def env(self) -> dict[str, str]:
        return {"ALERTMANAGER_URL": self.url}

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

    def alerts(self) -> list[dict[str, Any]]:
        """The alerts Alertmanager currently holds (API v2)."""
        response = requests.get(f"{self.url}/api/v2/alerts", timeout=10)
        response.raise_for_status()
        return list(response.json())
