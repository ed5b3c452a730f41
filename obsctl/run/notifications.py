"""What Alertmanager delivered to the local webhook receiver (<state>/alerts.jsonl).

Each line of the file is one webhook call, {"received_at", "path", "payload"}; a payload carries
one group's alerts, each with its status (firing or resolved), labels and startsAt/endsAt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Notification:
    received_at: float  # unix seconds, when the webhook received it
    receiver_path: str  # /<receiver name>: which Alertmanager receiver delivered it
    status: str  # firing | resolved
    labels: dict[str, str]
    starts_at: str

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")


def read(log: Path) -> list[Notification]:
    """Every alert of every webhook call so far, in the order received."""
    if not log.exists():
        return []
    out = []
    for line in log.read_text().splitlines():
        if not line.strip():
            continue
        try:
            call: dict[str, Any] = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line being written right now
        payload = call.get("payload") or {}
        for alert in payload.get("alerts", []):
            out.append(
                Notification(
                    received_at=float(call.get("received_at", 0)),
                    receiver_path=str(call.get("path", "")),
                    status=str(alert.get("status", "")),
                    labels=dict(alert.get("labels", {})),
                    starts_at=str(alert.get("startsAt", "")),
                )
            )
    return out


def first(
    log: Path, alertname: str, status: str, *, since: float = 0.0, **labels: str
) -> Notification | None:
    """The first notification of `alertname` with `status` (and these labels) received after `since`."""
    for note in read(log):
        if (
            note.alertname == alertname
            and note.status == status
            and note.received_at >= since
            and all(note.labels.get(k) == v for k, v in labels.items())
        ):
            return note
    return None
