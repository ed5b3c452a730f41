"""observability/alert-routing.yaml: where alerts go (Alertmanager's webhook receivers) and where
their runbook links point."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field

from obsctl import paths
from obsctl.errors import StrictModel
from obsctl.generate.sources.read import load_model


class AlertRouting(StrictModel):
    # Every alert's runbook_url is <runbook_base_url>#<alert name in lower case>.
    runbook_base_url: str = Field(min_length=1)
    # alerts/alertmanager.yml: <base>/<team>/page (critical), <base>/<team>/ticket (warning, info),
    # <base>/default for alerts without a team.
    webhook_base_url: str = Field(pattern=r"^https?://")


def load(path: Path | None = None) -> AlertRouting:
    return load_model(path or paths.ALERT_ROUTING, AlertRouting)


@lru_cache(maxsize=1)
def default() -> AlertRouting:
    return load()
