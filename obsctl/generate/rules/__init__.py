"""The `rules` area: SLO rules, service alerts, alertmanager.yml and the generated promtool tests,
checked by promtool and amtool."""

from __future__ import annotations

from obsctl.generate.area import Area
from obsctl.generate.rules import layout
from obsctl.generate.rules.checks import check_all
from obsctl.generate.rules.generate import generate

AREA = Area(
    name="rules",
    description="recording rules, SLO rules, alerts, alertmanager.yml, SLO promtool tests",
    generate=lambda _upstream: generate(),
    checks=(("rules", check_all),),
    # alerts/ holds only generated files: one the area no longer renders is stale.
    owned_dirs=(layout.ALERTS_DIR,),
)
