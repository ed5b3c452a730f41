"""The payment service's outbound clients, one set per worker process.

Risk and channel sit behind circuit breakers (an outage fails fast instead of holding threads).
Every call the payment service makes is idempotent on the callee's side (risk evaluations,
debits and credits per payment or reference id, charges per payment id, refunds per refund id),
so all of them may be retried within the deadline.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

from apps.common.config import env
from apps.common.http import ServiceClient


@dataclass(frozen=True)
class Clients:
    risk: ServiceClient
    account: ServiceClient
    channel: ServiceClient


_lock = threading.Lock()
_clients: Clients | None = None
_pid: int | None = None


def build() -> Clients:
    fail_max = env("PAYMENT_BREAKER_FAIL_MAX", 5, int)
    reset_s = env("PAYMENT_BREAKER_RESET_S", 10.0, float)
    attempts = env("PAYMENT_MAX_ATTEMPTS", 3, int)
    return Clients(
        risk=ServiceClient(
            "risk",
            env("RISK_URL"),
            breaker=True,
            fail_max=fail_max,
            reset_timeout_s=reset_s,
            max_attempts=attempts,
        ),
        account=ServiceClient("account", env("ACCOUNT_URL"), max_attempts=attempts),
        channel=ServiceClient(
            "channel",
            env("CHANNEL_URL"),
            breaker=True,
            fail_max=fail_max,
            reset_timeout_s=reset_s,
            max_attempts=attempts,
        ),
    )


def get() -> Clients:
    """This process's clients (built after a fork, never shared across processes)."""
    global _clients, _pid
    with _lock:
        if _clients is None or _pid != os.getpid():
            _clients = build()
            _pid = os.getpid()
        return _clients


def reset() -> None:
    """Forget the clients (tests that change URLs or breaker settings)."""
    global _clients
    with _lock:
        _clients = None
