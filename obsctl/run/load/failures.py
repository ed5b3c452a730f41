"""How the load generator names a failed answer, so a report says which failure it was."""

from __future__ import annotations

import json


def failure_text(status: int, body: str | None) -> str:
    """How a failed answer is counted: its status and, when the body is our JSON error, its code
    (a 503 may be a pool, the replay store or a downstream service giving up)."""
    try:
        code = json.loads(body or "")["error"]["code"]
    except (ValueError, TypeError, KeyError):
        return f"HTTP {status}"
    return f"HTTP {status} {code}"
