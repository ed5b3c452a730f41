"""The local webhook receiver as a stack component (see webhook_receiver.py for the script)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import requests

from obsctl.run.stack import process
from obsctl.run.stack.process import ProcessRecord
from obsctl.run.stack.server import Server

SCRIPT = Path(__file__).with_name("webhook_receiver.py")


class Webhook(Server):
    name = "webhook"
    start_timeout = 15.0

    def __init__(self, state_dir: Path | str, *, name: str | None = None, out: Path | str | None = None):
        super().__init__(state_dir, name=name)
        self.out = Path(out) if out else self.state_dir / "alerts.jsonl"

    def env(self) -> dict[str, str]:
        return {"ALERT_WEBHOOK_URL": self.url, "ALERTS_LOG": str(self.out)}

    def launch(self, port: int) -> ProcessRecord:
        argv = [sys.executable, str(SCRIPT), "--port", str(port), "--out", str(self.out)]
        return process.spawn(self.name, argv, log=self.log_path)

    def ready(self) -> bool:
        return requests.get(self.url, timeout=2).status_code == 200

    def notifications(self) -> list[dict[str, Any]]:
        """Every notification recorded so far, oldest first."""
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]
