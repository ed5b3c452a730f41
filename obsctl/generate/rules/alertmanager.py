"""alerts/alertmanager.yml: routing by owning team and severity, page-inhibits-ticket per SLO.

`render_alertmanager(url)` is the one renderer: `obsctl generate` writes the committed copy with
the base URL from observability/alert-routing.yaml, and the local stack renders its own copy pointing
at its local webhook receiver, so both route identically.
"""

from __future__ import annotations

from typing import Any

import catalog as catalog_mod
from catalog import Catalog
from obsctl.generate import conventions as c
from obsctl.generate.rules.yamlout import dump
from obsctl.generate.sources import alert_routing

# Severity -> tier of receiver: critical pages the on-call, the rest opens a ticket.
TIERS = (("page", 'severity="critical"'), ("ticket", 'severity=~"warning|info"'))
GROUP_BY = ["alertname", "team", c.LABEL_SERVICE, c.LABEL_SLO, "job"]
DEFAULT_RECEIVER = "default"


def receiver_name(team: str, tier: str) -> str:
    return f"{team}-{tier}"


def config(webhook_base_url: str, catalog: Catalog) -> dict[str, Any]:
    base = webhook_base_url.rstrip("/")
    teams = sorted(catalog.teams)
    receivers: list[dict[str, Any]] = [
        {"name": DEFAULT_RECEIVER, "webhook_configs": [{"url": f"{base}/default", "send_resolved": True}]}
    ]
    routes = []
    for team in teams:
        for tier, _ in TIERS:
            receivers.append(
                {
                    "name": receiver_name(team, tier),
                    "webhook_configs": [{"url": f"{base}/{team}/{tier}", "send_resolved": True}],
                }
            )
        routes.append(
            {
                "receiver": receiver_name(team, "ticket"),
                "matchers": [f'team="{team}"'],
                "routes": [
                    {
                        "receiver": receiver_name(team, "page"),
                        "matchers": [TIERS[0][1]],
                        # Pages go out fast and repeat sooner than tickets.
                        "group_wait": "10s",
                        "repeat_interval": "1h",
                    },
                    {"receiver": receiver_name(team, "ticket"), "matchers": [TIERS[1][1]]},
                ],
            }
        )
    return {
        "route": {
            "receiver": DEFAULT_RECEIVER,
            "group_by": GROUP_BY,
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": routes,
        },
        "inhibit_rules": [
            {
                # A page for an SLO makes its ticket redundant (same SLO: same SLO id label).
                "source_matchers": [f'{c.LABEL_SEVERITY}="page"'],
                "target_matchers": [f'{c.LABEL_SEVERITY}="ticket"'],
                "equal": [c.LABEL_ID],
            }
        ],
        "receivers": receivers,
    }


def render_alertmanager(webhook_base_url: str | None = None) -> str:
    """alertmanager.yml with every receiver a webhook under `webhook_base_url`
    (default: observability/alert-routing.yaml webhook_base_url)."""
    url = webhook_base_url or alert_routing.default().webhook_base_url
    return dump(
        config(url, catalog_mod.default()),
        comment="Routes by team (observability/catalog.yaml) and severity; see docs/runbooks.md.",
    )
