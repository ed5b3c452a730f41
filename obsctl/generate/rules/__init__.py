"""The `rules` area: SLO rules, service alerts, alertmanager.yml and the generated promtool tests,
checked by promtool and amtool."""

from __future__ import annotations

from obsctl.generate.area import Area, Upstream


def _generate(_: Upstream) -> dict[str, str]:
    from obsctl.generate.rules.generate import generate

    return generate()


def _check() -> list[str]:
    from obsctl.generate.rules.checks import check_all

    return check_all()


AREA = Area(
    name="rules",
    description="recording rules, SLO rules, alerts, alertmanager.yml, SLO promtool tests",
    generate=_generate,
    checks=(("rules", _check),),
    owned_dirs=("alerts/rules", "alerts/slo-tests"),
)
