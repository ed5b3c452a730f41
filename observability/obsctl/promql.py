"""A small Prometheus HTTP API client for the demo, bench and live tests."""

from __future__ import annotations

from typing import Any

import requests

from obsctl.errors import ObsctlError


class PrometheusAPI:
    def __init__(self, url: str, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, **params: Any) -> Any:
        try:
            response = requests.get(f"{self.url}{path}", params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise ObsctlError(f"Prometheus at {self.url} is unreachable: {exc}") from exc
        body = response.json()
        if body.get("status") != "success":
            raise ObsctlError(f"Prometheus {path} failed: {body.get('error', response.text[:300])}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        data = self._get("/api/v1/query", query=expr)
        return list(data["result"])

    def scalar(self, expr: str) -> float | None:
        """The single value of an expression that yields one series, None when it yields none."""
        result = self.query(expr)
        if not result:
            return None
        return float(result[0]["value"][1])

    def firing(self, alertname: str, **labels: str) -> list[dict[str, Any]]:
        return [
            a
            for a in self._get("/api/v1/alerts")["alerts"]
            if a["labels"].get("alertname") == alertname
            and a["state"] == "firing"
            and all(a["labels"].get(k) == v for k, v in labels.items())
        ]

    def rules(self) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/rules")["groups"])

    def targets(self) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/targets")["activeTargets"])
