"""A server started from one config file: Prometheus and Alertmanager share this handling."""

from __future__ import annotations

from pathlib import Path

import requests

from obsctl.run.stack.server import Server
from obsctl.run.stack.wait import StackError


class ConfiguredServer(Server):
    """Runs from `config_file` when given, else from `config_text` written into its data dir."""

    config_name = "config.yml"
    config_file: Path | None = None
    config_text: str | None = None

    @property
    def config_path(self) -> Path:
        return self.config_file or self.data_dir / self.config_name

    def write_config(self) -> bool:
        """Write the config text; True when it changed (then reload a running instance)."""
        if self.config_text is None:
            return False
        self.data_dir.mkdir(parents=True, exist_ok=True)
        path = self.data_dir / self.config_name
        if path.exists() and path.read_text() == self.config_text:
            return False
        path.write_text(self.config_text)
        return True

    def prepare(self) -> None:
        super().prepare()
        self.write_config()

    def reload(self) -> None:
        """Re-read the config (and, for Prometheus, the rule files it names)."""
        response = requests.post(f"{self.url}/-/reload", timeout=30)
        if response.status_code != 200:
            raise StackError(f"{self.name} reload failed: {response.text.strip()}")
