"""Prometheus 3 (the pinned build of tools/versions.yaml) with a given or rendered config, TSDB in
the state directory. The build serves the HTTP API, not the web UI (tools/versions.yaml says why).

The config is either a file given as is, or rendered from scrape configs, rule files (or a rules
directory: every *.yml in it whose top level has `groups`) and an Alertmanager URL. Intervals are
short (5 s) so the local demo and the live tests see rules react quickly.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import requests
import yaml

from obsctl.run.stack import process
from obsctl.run.stack.binaries import tool_binary
from obsctl.run.stack.configured import ConfiguredServer
from obsctl.run.stack.process import ProcessRecord
from obsctl.run.stack.wait import StackError, log_tail

DEFAULT_INTERVAL = "5s"
# How long an API call waits out a 503 of a Prometheus that is not ready before it reports it.
NOT_READY_WAIT_S = 15.0


def prometheus_binary() -> str:
    return tool_binary("prometheus")


def rule_files_in(directory: Path | str) -> list[Path]:
    """The Prometheus rule files of a directory: YAML whose top level has `groups` (promtool tests,
    alertmanager.yml and other YAML are left out)."""
    found = []
    for path in sorted(Path(directory).glob("*.y*ml")):
        try:
            doc = yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            continue
        if isinstance(doc, dict) and "groups" in doc and "rule_files" not in doc and "tests" not in doc:
            found.append(path.resolve())
    return found


def static_job(job: str, targets: Iterable[str], metrics_path: str = "/metrics") -> dict[str, Any]:
    return {"job_name": job, "metrics_path": metrics_path, "static_configs": [{"targets": list(targets)}]}


def render_config(
    *,
    scrape_configs: Sequence[dict[str, Any]] = (),
    rule_files: Sequence[Path | str] = (),
    alertmanager_url: str | None = None,
    interval: str = DEFAULT_INTERVAL,
) -> str:
    config: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
        "rule_files": [str(Path(p).resolve()) for p in rule_files],
        "scrape_configs": list(scrape_configs),
    }
    if alertmanager_url:
        host = alertmanager_url.split("://", 1)[-1].rstrip("/")
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [host]}]}]}
    return yaml.safe_dump(config, sort_keys=False)


class Prometheus(ConfiguredServer):
    config_name = "prometheus.yml"
    name = "prometheus"
    start_timeout = 60.0

    def __init__(
        self,
        state_dir: Path | str,
        *,
        name: str | None = None,
        config_file: Path | str | None = None,
        config_text: str | None = None,
        rule_files: Sequence[Path | str] = (),
        rules_dir: Path | str | None = None,
        scrape_configs: Sequence[dict[str, Any]] = (),
        alertmanager_url: str | None = None,
        interval: str = DEFAULT_INTERVAL,
    ) -> None:
        super().__init__(state_dir, name=name)
        self.config_file = Path(config_file).resolve() if config_file else None
        if config_text is None and self.config_file is None:
            rules = list(rule_files) + (rule_files_in(rules_dir) if rules_dir else [])
            config_text = render_config(
                scrape_configs=scrape_configs,
                rule_files=rules,
                alertmanager_url=alertmanager_url,
                interval=interval,
            )
        self.config_text = config_text

    def env(self) -> dict[str, str]:
        return {"PROMETHEUS_URL": self.url}

    def launch(self, port: int) -> ProcessRecord:
        argv = [
            prometheus_binary(),
            f"--config.file={self.config_path}",
            f"--storage.tsdb.path={self.data_dir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=2d",
            "--log.level=warn",
        ]
        return process.spawn(self.name, argv, log=self.log_path, cwd=self.data_dir)

    def ready(self) -> bool:
        return requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200

    # -- helpers ------------------------------------------------------------------------------

    def api(self, path: str, **params: Any) -> Any:
        # Prometheus answers 503 "Service Unavailable" while it is not ready (its readiness gate,
        # which a server that had answered /-/ready closed again in one CI run): wait a
        # bounded time for it rather than fail the caller.
        deadline = time.monotonic() + NOT_READY_WAIT_S
        while True:
            response = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=30)
            if response.status_code != 503 or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
        try:
            body = response.json()
        except ValueError:
            raise StackError(
                f"{self.name} /api/v1/{path}: HTTP {response.status_code} {response.text[:200]!r} "
                f"(X-Prometheus-Stopping: {response.headers.get('X-Prometheus-Stopping')}); "
                f"see {self.log_path}:\n{log_tail(str(self.log_path))}"
            ) from None
        if body.get("status") != "success":
            raise StackError(f"prometheus /api/v1/{path} {params}: {body.get('error', response.text)}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant query; the result vector (or matrix) as Prometheus returns it."""
        result = self.api("query", query=expr)["result"]
        return list(result)
