"""A small Prometheus HTTP API client for the demo, the benchmark and the live tests."""

from __future__ import annotations

import time
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
        try:
            body = response.json()
        except ValueError:
            raise ObsctlError(
                f"Prometheus {path} answered {response.status_code}: {response.text[:300]}"
            ) from None
        if body.get("status") != "success":
            raise ObsctlError(f"Prometheus {path} failed: {body.get('error', response.text[:300])}")
        return body["data"]

    def wait_until_serving(self, timeout_s: float = 60.0) -> None:
        """Block until the query API answers: right after a start or a reload it may answer 503."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self.query("up")
                return
            except ObsctlError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """An instant query, evaluated now or at `at` (unix seconds)."""
        params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
        data = self._get("/api/v1/query", **params)
        return list(data["result"])

    def scalar(self, expr: str) -> float | None:
        """The single value of an expression that yields one series, None when it yields none."""
        result = self.query(expr)
        if not result:
            return None
        return float(result[0]["value"][1])

    def alerts(self) -> list[dict[str, Any]]:
        """Every pending and firing alert Prometheus holds."""
        return list(self._get("/api/v1/alerts")["alerts"])

    def firing(self, alertname: str, **labels: str) -> list[dict[str, Any]]:
        return [
            a
            for a in self.alerts()
            if a["labels"].get("alertname") == alertname
            and a["state"] == "firing"
            and all(a["labels"].get(k) == v for k, v in labels.items())
        ]

    def rules(self) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/rules")["groups"])

    def targets(self) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/targets")["activeTargets"])

    def label_values(self, label: str, match: str | None = None) -> list[str]:
        """Values of `label`, across every series or only those `match` selects."""
        params: dict[str, Any] = {"match[]": match} if match else {}
        return list(self._get(f"/api/v1/label/{label}/values", **params))

    def series(self, match: str) -> list[dict[str, str]]:
        return list(self._get("/api/v1/series", **{"match[]": match}))

    def metadata(self) -> dict[str, list[dict[str, str]]]:
        """Metric name -> the type, help and unit the scraped targets declared."""
        return dict(self._get("/api/v1/metadata"))

    def target_metadata(self, job: str) -> list[dict[str, Any]]:
        """Per-target metadata of one scrape job (metric, type, help, unit)."""
        return list(self._get("/api/v1/targets/metadata", match_target=f'{{job="{job}"}}'))
