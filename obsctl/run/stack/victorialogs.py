"""VictoriaLogs (the pinned build of tools/versions.yaml), the local logs backend: OTLP/HTTP logs in
at /insert/opentelemetry/v1/logs, LogsQL out at /select/logsql/query, one port of 127.0.0.1, data
under the state directory.

An OTLP log record becomes one entry whose fields are its resource attributes (`service.name`,
...), its attributes (the extra fields a service logged: `payment_id`, `reason`, ...) and
`_msg` (the body), `_time`, `trace_id`, `span_id` (hex), `severity_text`, `severity_number`,
`scope.name` (for Python's logging handler, the logger's name). The resource attributes form the
log stream (`_stream`). `trace_id:<id>` finds the lines of one trace. The web UI (vmui) is
embedded: `/select/vmui/`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import requests

from obsctl.run.stack import process
from obsctl.run.stack.binaries import tool_binary
from obsctl.run.stack.process import ProcessRecord
from obsctl.run.stack.server import Server
from obsctl.run.stack.wait import StackError

OTLP_PATH = "/insert/opentelemetry"  # the OTLP/HTTP base: the exporter appends /v1/logs


class VictoriaLogs(Server):
    name = "victorialogs"
    start_timeout = 30.0

    @property
    def otlp_endpoint(self) -> str:
        """The OTLP/HTTP base URL for logs (an SDK or an exporter's `endpoint` appends /v1/logs)."""
        return self.url + OTLP_PATH

    @property
    def otlp_logs_url(self) -> str:
        """The full OTLP/HTTP logs URL (an exporter's `logs_endpoint`)."""
        return self.otlp_endpoint + "/v1/logs"

    def env(self) -> dict[str, str]:
        return {"LOGS_URL": self.url}

    def launch(self, port: int) -> ProcessRecord:
        argv = [
            tool_binary("victorialogs"),
            f"-httpListenAddr=127.0.0.1:{port}",
            f"-storageDataPath={self.data_dir / 'data'}",
            "-retentionPeriod=7d",
            "-loggerLevel=WARN",
        ]
        return process.spawn(self.name, argv, log=self.log_path, cwd=self.data_dir)

    def ready(self) -> bool:
        return requests.get(f"{self.url}/health", timeout=2).status_code == 200

    # -- LogsQL ----------------------------------------------------------------------------------

    def query(self, logsql: str, *, limit: int = 1000, start: str | None = None) -> list[dict[str, Any]]:
        """The entries matching a LogsQL query, oldest first (each a dict of its fields).
        `start` bounds the time range (LogsQL time, e.g. "1h" back or RFC3339); default all."""
        params: dict[str, str | int] = {"query": logsql, "limit": limit}
        if start:
            params["start"] = start
        answer = requests.post(f"{self.url}/select/logsql/query", data=params, timeout=30)
        if answer.status_code != 200:
            raise StackError(f"victorialogs query {logsql!r}: HTTP {answer.status_code} {answer.text[:300]}")
        entries = [json.loads(line) for line in answer.text.splitlines() if line.strip()]
        return sorted(entries, key=lambda e: str(e.get("_time", "")))

    def trace_logs(self, trace_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        """Every log line of one trace, oldest first."""
        return self.query(f"trace_id:={quote_phrase(trace_id)}", limit=limit)

    def ui_url(self, logsql: str) -> str:
        """The embedded web UI (vmui), showing the query."""
        return f"{self.url}/select/vmui/#/?query={quote(logsql)}"


def quote_phrase(value: str) -> str:
    """A LogsQL exact phrase: the value in double quotes."""
    return json.dumps(value)
