"""Run the Locust user headless in a subprocess and summarise what it measured."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from obsctl.errors import ObsctlError

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
REQUIRED_ENV = ("GATEWAY_URL", "DEMO_API_KEY", "DEMO_API_SECRET", "DEMO_USER_IDS", "DEMO_CURRENCY")


@dataclass
class LoadResult:
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    by_name: dict[str, dict[str, float]] = field(default_factory=dict)
    failures_by_error: dict[str, int] = field(default_factory=dict)

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


class LoadProcess:
    """Locust running headless in its own process; stop() (or its duration) ends it."""

    def __init__(
        self,
        stack_env: dict[str, str],
        *,
        users: int,
        user_rate: float,
        duration_s: int,
        payments_only: bool = False,
    ):
        missing = [k for k in REQUIRED_ENV if not stack_env.get(k)]
        if missing:
            raise ObsctlError(f"the stack is not up (missing {', '.join(missing)}): run `make up` first")
        env = {**os.environ, **stack_env, "LOAD_USER_RATE": str(user_rate)}
        if payments_only:
            env["LOAD_MIX"] = "payments"
        self._stopped = False
        self._tmp = tempfile.TemporaryDirectory(prefix="obsctl-load-")
        self.prefix = str(Path(self._tmp.name) / "load")
        argv = [
            sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
            "--host", stack_env["GATEWAY_URL"], "-u", str(users), "-r", str(max(1, users)),
            "-t", f"{duration_s}s", "--csv", self.prefix, "--only-summary", "--loglevel", "WARNING",
            "--stop-timeout", "5",
        ]  # fmt: skip
        # Locust's log goes to a file, not a pipe: nobody reads a pipe while the load runs, and a
        # full one (64 KiB of warnings during a fault) would block Locust, and the load with it.
        self.log = Path(self._tmp.name) / "locust.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=log)

    def running(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 20.0) -> LoadResult:
        if self.running():
            self._stopped = True
            self.proc.send_signal(signal.SIGINT)  # Locust writes its CSV files on SIGINT too
        return self.wait(timeout_s)

    def wait(self, timeout_s: float | None = None) -> LoadResult:
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        stderr = self.log.read_text(errors="replace") if self.log.exists() else ""
        try:
            stats = Path(f"{self.prefix}_stats.csv")
            if not stats.exists() and self._stopped:
                # Stopped before Locust had set up its handlers, or killed because it did not
                # finish in time (a request hanging on a stopped component): nothing to report.
                return LoadResult(0, 0, 0.0, 0.0, 0.0, 0.0)
            if not stats.exists():
                raise ObsctlError(
                    f"locust produced no statistics (exit {self.proc.returncode}): {(stderr or '')[-2000:]}"
                )
            return _summarise(stats, Path(f"{self.prefix}_failures.csv"))
        finally:
            self._tmp.cleanup()


def run_load(
    stack_env: dict[str, str],
    *,
    users: int,
    user_rate: float,
    duration_s: int,
    payments_only: bool = False,
) -> LoadResult:
    """Run Locust for duration_s and return what it measured."""
    return LoadProcess(
        stack_env, users=users, user_rate=user_rate, duration_s=duration_s, payments_only=payments_only
    ).wait()


def _summarise(stats_csv: Path, failures_csv: Path) -> LoadResult:
    by_name: dict[str, dict[str, float]] = {}
    total: dict[str, str] = {}
    with stats_csv.open() as fh:
        for row in csv.DictReader(fh):
            if row["Name"] == "Aggregated":
                total = row
            else:
                by_name[row["Name"]] = {
                    "requests": float(row["Request Count"]),
                    "failures": float(row["Failure Count"]),
                    "p50_ms": float(row["50%"] or 0),
                    "p99_ms": float(row["99%"] or 0),
                }
    failures: dict[str, int] = {}
    if failures_csv.exists():
        with failures_csv.open() as fh:
            for row in csv.DictReader(fh):
                failures[f"{row['Name']}: {row['Error']}"] = int(row["Occurrences"])
    if not total:
        return LoadResult(0, 0, 0.0, 0.0, 0.0, 0.0, by_name, failures)
    return LoadResult(
        requests=int(total["Request Count"]),
        failures=int(total["Failure Count"]),
        rps=float(total["Requests/s"]),
        p50_ms=float(total["50%"] or 0),
        p95_ms=float(total["95%"] or 0),
        p99_ms=float(total["99%"] or 0),
        by_name=by_name,
        failures_by_error=failures,
    )
