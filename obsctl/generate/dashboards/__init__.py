"""The `dashboards` area: Grafana dashboards rendered from jsonnet (dashboards/src, dashboards/lib)
into dashboards/generated/, and the jsonnet formatting check."""

from __future__ import annotations

from obsctl.generate.area import Area, Upstream


def _generate(_: Upstream) -> dict[str, str]:
    from obsctl.generate.dashboards import render

    return render.generate()


def _unformatted() -> list[str]:
    from obsctl.generate.dashboards import fmt

    return fmt.unformatted()


AREA = Area(
    name="dashboards",
    description="Grafana dashboards from jsonnet",
    generate=_generate,
    checks=(("dashboards-jsonnetfmt", _unformatted),),
    owned_dirs=("dashboards/generated",),
)
