"""Open-loop payment traffic: payments arrive at a fixed rate, whatever the answers take.

Locust's users are a closed loop: a user sends its next payment when the last one is answered,
so a slow stack is sent less and its queueing never shows. Here each payment has an arrival time
fixed in advance (`constant`: every 1/rate s; `poisson`: exponential gaps of mean 1/rate s, as
independent clients arrive) and is sent at that time on its own greenlet (gevent, with
geventhttpclient's keep-alive connections, the client Locust's FastHttpUser uses). Its latency is
measured from its arrival time, not from when a connection was free, so time spent waiting for
one counts (no coordinated omission).

    python -m obsctl.run.load.openloop --rate 50 --duration 10 [--arrivals poisson] [--seed 1]

reads GATEWAY_URL, DEMO_API_KEY, DEMO_API_SECRET, DEMO_USER_IDS, DEMO_CURRENCY and
LOAD_SIGNING_SCHEME (obsctl/run/load/signing.py), and prints one JSON document: the payments
sent, each answered one's latency in ms, and the failures by kind (obsctl/run/load/failures.py).
402 (declined) is an answer, like 200 and 201; any other status, a timeout or a refused
connection is a failure. `run_open_loop()` runs it in a subprocess and summarises the document.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from obsctl.errors import ObsctlError
from obsctl.run.load.run import REQUIRED_ENV

ARRIVALS = ("poisson", "constant")
# At most this many payments in flight: beyond it the stack is far past any latency target, and
# an unbounded number of greenlets would only measure the load generator's memory.
MAX_IN_FLIGHT = 2000
CONNECTIONS = 256
TIMEOUT_S = 10.0
AMOUNTS = (199, 500, 1250, 2999, 4999, 10000, 25000)
METHODS = ("card", "card", "card", "wallet", "bank_transfer")


def arrival_times(rate: float, duration_s: float, arrivals: str, rng: random.Random) -> list[float]:
    """Seconds from the start at which each payment arrives, all within `duration_s`."""
    if rate <= 0:
        return []
    if arrivals == "constant":
        return [i / rate for i in range(math.ceil(rate * duration_s)) if i / rate < duration_s]
    if arrivals != "poisson":
        raise ValueError(f"arrivals must be one of {ARRIVALS}, not {arrivals!r}")
    times, t = [], rng.expovariate(rate)
    while t < duration_s:
        times.append(t)
        t += rng.expovariate(rate)
    return times


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (0 for no values): the smallest value with at least `fraction` of
    the values at or below it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


@dataclass
class OpenLoopResult:
    rate: float
    duration_s: float
    sent: int
    latencies_ms: list[float] = field(default_factory=list)  # of the answered payments
    failures_by_error: dict[str, int] = field(default_factory=dict)
    # How late the generator itself sent payments (its own lag, should stay near 0)
    max_send_lag_ms: float = 0.0

    @property
    def failures(self) -> int:
        return sum(self.failures_by_error.values())

    @property
    def error_rate(self) -> float:
        return self.failures / self.sent if self.sent else 0.0

    @property
    def payments_per_s(self) -> float:
        return len(self.latencies_ms) / self.duration_s if self.duration_s else 0.0

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 0.50)

    @property
    def p99_ms(self) -> float:
        """Of the answered payments; failures are counted apart (error_rate), and a probe with any
        fails whatever its latency."""
        return percentile(self.latencies_ms, 0.99)

    @classmethod
    def combined(cls, parts: Sequence[OpenLoopResult]) -> OpenLoopResult:
        """Several runs at the same rate as one: their durations, payments and latencies together."""
        if not parts:
            raise ValueError("nothing to combine")
        failures: dict[str, int] = {}
        for part in parts:
            for error, count in part.failures_by_error.items():
                failures[error] = failures.get(error, 0) + count
        return cls(
            rate=parts[0].rate,
            duration_s=sum(part.duration_s for part in parts),
            sent=sum(part.sent for part in parts),
            latencies_ms=[latency for part in parts for latency in part.latencies_ms],
            failures_by_error=failures,
            max_send_lag_ms=max(part.max_send_lag_ms for part in parts),
        )

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> OpenLoopResult:
        return cls(
            rate=float(document["rate"]),
            duration_s=float(document["duration_s"]),
            sent=int(document["sent"]),
            latencies_ms=[float(x) for x in document["latencies_ms"]],
            failures_by_error={str(k): int(v) for k, v in document["failures_by_error"].items()},
            max_send_lag_ms=float(document.get("max_send_lag_ms", 0.0)),
        )


def run_open_loop(
    stack_env: dict[str, str],
    *,
    rate: float,
    duration_s: float,
    arrivals: str = "poisson",
    seed: int | None = None,
) -> OpenLoopResult:
    """Send payments at `rate` per second for `duration_s` from a subprocess; what it measured."""
    missing = [k for k in REQUIRED_ENV if not stack_env.get(k)]
    if missing:
        raise ObsctlError(f"the stack is not up (missing {', '.join(missing)}): run `make up` first")
    argv = [
        sys.executable, "-m", "obsctl.run.load.openloop", "--rate", f"{rate:g}",
        "--duration", f"{duration_s:g}", "--arrivals", arrivals,
    ]  # fmt: skip
    if seed is not None:
        argv += ["--seed", str(seed)]
    done = subprocess.run(
        argv,
        env={**os.environ, **stack_env},
        capture_output=True,
        text=True,
        timeout=duration_s + TIMEOUT_S + 60,
        check=False,
    )
    if done.returncode != 0:
        raise ObsctlError(f"the open-loop load failed (exit {done.returncode}): {done.stderr[-2000:]}")
    return OpenLoopResult.from_document(json.loads(done.stdout))


# -- the generator itself (in its own process) ---------------------------------------------------


def _generate(rate: float, duration_s: float, arrivals: str, seed: int | None) -> dict[str, Any]:
    import gevent
    import gevent.pool
    from geventhttpclient import HTTPClient
    from geventhttpclient.url import URL

    from obsctl.run.load import signing
    from obsctl.run.load.failures import failure_text

    url = URL(os.environ["GATEWAY_URL"])
    api_key, secret = os.environ["DEMO_API_KEY"], os.environ["DEMO_API_SECRET"]
    users = [u for u in os.environ["DEMO_USER_IDS"].split(",") if u]
    currency = os.environ.get("DEMO_CURRENCY", "EUR")
    scheme = os.environ.get(signing.SCHEME_VARIABLE, "v2")
    rng = random.Random(seed)
    client = HTTPClient(
        url.host,
        url.port,
        concurrency=CONNECTIONS,
        connection_timeout=TIMEOUT_S,
        network_timeout=TIMEOUT_S,
    )
    latencies: list[float] = []
    failures: dict[str, int] = {}
    lag = 0.0

    def fail(kind: str) -> None:
        failures[kind] = failures.get(kind, 0) + 1

    def pay(arrived: float) -> None:
        payload = {
            "user_id": rng.choice(users),
            "amount": rng.choice(AMOUNTS),
            "currency": currency,
            "payment_method": rng.choice(METHODS),
            # Unique: a revision before issue 16 refused a second identical signed body within
            # its timestamp second as a replay (401), which would count as an error of the stack.
            "description": f"load test {uuid.uuid4().hex[:12]}",
        }
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = signing.signed_headers(
            api_key, secret, "POST", "/api/v1/payments", body, uuid.uuid4().hex, scheme
        )
        try:
            with gevent.Timeout(TIMEOUT_S):
                response = client.post("/api/v1/payments", body=body, headers=headers)
                text = response.read()
        except gevent.Timeout:
            fail("timeout")
            return
        except Exception as exc:  # refused, reset: a failure of the stack, named by its type
            fail(type(exc).__name__)
            return
        if response.status_code in (200, 201, 402):
            latencies.append((time.monotonic() - arrived) * 1000)
        else:
            fail(failure_text(response.status_code, text.decode("utf-8", "replace")))

    schedule = arrival_times(rate, duration_s, arrivals, rng)
    group = gevent.pool.Pool(MAX_IN_FLIGHT)
    start = time.monotonic()
    for offset in schedule:
        due = start + offset
        wait = due - time.monotonic()
        if wait > 0:
            gevent.sleep(wait)
        else:
            lag = max(lag, -wait)
        if group.full():
            fail("overload: too many payments in flight")
            continue
        group.spawn(pay, due)
    group.join(timeout=TIMEOUT_S + 5)
    client.close()
    unfinished = len(schedule) - len(latencies) - sum(failures.values())
    if unfinished > 0:
        failures["unfinished"] = unfinished
    return {
        "rate": rate,
        "duration_s": duration_s,
        "sent": len(schedule),
        "latencies_ms": [round(x, 3) for x in latencies],
        "failures_by_error": failures,
        "max_send_lag_ms": round(lag * 1000, 3),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=float, required=True, help="payments per second")
    parser.add_argument("--duration", type=float, required=True, help="seconds of arrivals")
    parser.add_argument("--arrivals", choices=ARRIVALS, default="poisson")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    print(json.dumps(_generate(args.rate, args.duration, args.arrivals, args.seed)))


if __name__ == "__main__":
    main()
