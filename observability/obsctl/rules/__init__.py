"""The `rules` area: SLO rules, service alerts, alertmanager.yml and generated promtool tests.

Importing this module registers the area's generator and its promtool/amtool check.
"""

from __future__ import annotations

from obsctl import artifacts
from obsctl.commands.generate import CHECKS


def _generate() -> dict[str, str]:
    from obsctl.rules.generate import generate

    return generate()


def _check() -> list[str]:
    from obsctl.rules.checks import check_all

    return check_all()


artifacts.register(
    artifacts.Area(name="rules", generate=_generate, owned_dirs=("alerts/rules", "alerts/slo-tests"))
)
CHECKS.append(("rules", _check))
