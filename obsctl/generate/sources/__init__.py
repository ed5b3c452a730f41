"""The loaders of observability/: one module per source file, each file read by exactly one model.

- observability/catalog.yaml: the top-level `catalog` package (the services and every area)
- observability/slos/*.yaml: obsctl.generate.slo.load (rules, dashboards, collector)
- observability/slo-policy.yaml: sources.slo_policy (rules' SLO alerts, dashboards)
- observability/service-alerts.yaml: sources.service_alerts (rules' service alerts, dashboards)
- observability/alert-routing.yaml: sources.alert_routing (runbook links, alertmanager.yml)
- observability/collector.yaml: sources.collector (collector, the local stack, tests/helm)

Every loader here has `load(path=None)` (the repository's file by default, from obsctl.paths) and
a cached `default()`; every problem names the file, the object, the field, what was got and what
was expected (sources.read).
"""
