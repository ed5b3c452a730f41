"""The `dashboards` area: Grafana dashboards rendered from jsonnet (dashboards/src, dashboards/lib).

Registers the generator (dashboards/generated/*.json) and the jsonnet formatting check of
`obsctl check`.
"""

from __future__ import annotations

from obsctl import artifacts
from obsctl.commands.generate import CHECKS
from obsctl.dashboards import fmt, render

artifacts.register(artifacts.Area("dashboards", render.generate, owned_dirs=("dashboards/generated",)))
CHECKS.append(("dashboards-jsonnetfmt", fmt.unformatted))
