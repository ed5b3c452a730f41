"""The `dashboards` area: Grafana dashboards rendered from jsonnet (dashboards/src, dashboards/lib)
into dashboards/generated/, and the jsonnet formatting check."""

from __future__ import annotations

from obsctl.generate.area import Area
from obsctl.generate.dashboards import fmt, render

AREA = Area(
    name="dashboards",
    description="Grafana dashboards from jsonnet",
    generate=lambda _upstream: render.generate(),
    checks=(("dashboards-jsonnetfmt", fmt.unformatted),),
    owned_dirs=("dashboards/generated",),
)
