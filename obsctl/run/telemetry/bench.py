"""The instrumentation benchmark behind `obsctl bench payments`.

Three configurations, one after the other in one run, each on a fresh local stack (PostgreSQL,
Redis, tansu, every service) so none inherits another's caches or table bloat:

    not instrumented     plain gunicorn, no opentelemetry-instrument
    10% sampled          opentelemetry-instrument, parentbased_traceidratio 0.1
    100% sampled         opentelemetry-instrument, parentbased_traceidratio 1.0

The instrumented ones export traces and logs over OTLP/HTTP to an OtlpSink in its own process,
so exporting costs what it costs against a collector. Locust drives the gateway with signed
payments at a fixed concurrency as fast as the stack answers, after a short warm-up that is not
measured. At the end of each measurement the peak resident memory (VmHWM) of every process of
each service is read from /proc.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from obsctl.errors import ObsctlError
from obsctl.run.load.run import LoadResult, run_load
from obsctl.run.stack.caller_env import overridden
from obsctl.run.stack.stack import Stack, seed_variables
from obsctl.run.stack.wait import free_port, wait_until

T = TypeVar("T")
USERS = 200


@dataclass(frozen=True)
class Config:
    name: str
    instrumented: bool
    sampling: float | None = None


CONFIGS = (
    Config("not instrumented", instrumented=False),
    Config("10% sampled", instrumented=True, sampling=0.1),
    Config("100% sampled", instrumented=True, sampling=1.0),
)


@dataclass
class Measured:
    config: Config
    load: LoadResult
    # service -> peak resident memory (VmHWM, kB) of each of its processes (master and workers)
    memory_kb: dict[str, list[int]] = field(default_factory=dict)
    exported_requests: int | None = None
    # service -> CPU seconds (user + system) all its processes used during the measured run
    cpu_s: dict[str, float] = field(default_factory=dict)
    # 1-minute load average when the configuration started: other work on the machine shows here
    load_average: float = 0.0


# -- /proc ------------------------------------------------------------------------------------


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rfind(")") + 2 :].split()[1])


def process_tree(root: int) -> list[int]:
    """`root` and every process descended from it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = _parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return sorted(found)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_kb(pid: int) -> int | None:
    """VmHWM: the most resident memory the process has had, in kB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


# -- the pieces of one measurement --------------------------------------------------------------


class SinkProcess:
    """`python -m obsctl.run.telemetry.otlp_sink` on a free port; counts what it receives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "obsctl.run.telemetry.otlp_sink", "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

        def listening() -> bool:
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        if not wait_until(listening, timeout=15, interval=0.1):
            self.proc.kill()
            raise ObsctlError("the OTLP sink did not start listening within 15 s")

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> int | None:
        self.proc.terminate()
        try:
            out, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None
        for line in reversed(out.splitlines()):
            if line.startswith("otlp-sink requests="):
                return int(line.split("=", 1)[1])
        return None


def seed(stack: Stack) -> dict[str, str]:
    """A merchant without a practical rate limit and USERS funded users (`python -m apps.seed`);
    the load's DEMO_* variables."""
    result = stack.seed(
        stack.env()["DATABASE_URL"],
        "--merchant-id=bench-merchant",
        "--merchant-name=bench merchant",
        f"--users={USERS}",
        "--user-prefix=bench-user-",
        "--rate-limit-per-minute=100000000",
    )
    return seed_variables(result)


def _service_variables(config: Config, endpoint: str | None) -> dict[str, str]:
    variables = {
        # Thousands of payments by a few hundred users within seconds: velocity rules would
        # decline most of them, and declines are cheaper than payments.
        "RISK_VELOCITY_MAX": "100000000",
        "RISK_FIRST_PAYMENT_POINTS": "0",
    }
    if config.instrumented:
        assert endpoint is not None and config.sampling is not None
        variables.update(
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": f"{config.sampling:g}",
            }
        )
    return variables


def _world_searchable_tempdir() -> Path:
    # PostgreSQL runs as the `postgres` user when obsctl runs as root: it must enter the directory.
    path = Path(tempfile.mkdtemp(prefix="obsctl-bench-"))
    path.chmod(0o755)
    return path


def measure(
    config: Config,
    *,
    users: int,
    duration_s: int,
    warmup_s: int,
    progress: Callable[[str], None],
    label: str | None = None,
) -> Measured:
    label = label or config.name
    load_average = os.getloadavg()[0]
    state = _world_searchable_tempdir()
    sink = SinkProcess() if config.instrumented else None
    stack = Stack(state, instrumented=config.instrumented)
    try:
        progress(f"{label}: starting the stack")
        with overridden(_service_variables(config, sink.endpoint if sink else None)):
            stack.up(["services"])
        env = {**stack.env(), "GATEWAY_URL": stack.server("gateway").url}
        env.update(seed(stack))
        if warmup_s:
            progress(f"{label}: warming up for {warmup_s} s")
            run_load(env, users=users, user_rate=0, duration_s=warmup_s, payments_only=True)
        progress(f"{label}: {users} concurrent users for {duration_s} s")
        cpu_before = _service_cpu(stack)
        result = run_load(env, users=users, user_rate=0, duration_s=duration_s, payments_only=True)
        cpu_after = _service_cpu(stack)
        measured = Measured(config, result, _service_memory(stack))
        measured.cpu_s = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
    finally:
        stack.down()
        # Stopped after the stack, so the services' last exports on shutdown are counted too.
        exported = sink.stop() if sink else None
        shutil.rmtree(state, ignore_errors=True)
    measured.exported_requests = exported
    measured.load_average = load_average
    return measured


def _service_cpu(stack: Stack) -> dict[str, float]:
    cpu = {}
    for name in stack.services():
        server = stack.server(name)
        if server.running():
            cpu[name] = sum(cpu_seconds(pid) for pid in process_tree(server.pid))
    return cpu


def _service_memory(stack: Stack) -> dict[str, list[int]]:
    memory = {}
    for name in stack.services():
        server = stack.server(name)
        if server.running():
            memory[name] = [kb for pid in process_tree(server.pid) if (kb := peak_rss_kb(pid)) is not None]
    return memory


def run(
    *,
    users: int,
    duration_s: int,
    warmup_s: int,
    progress: Callable[[str], None],
    configs: tuple[Config, ...] = CONFIGS,
    rounds: int = 1,
) -> list[list[Measured]]:
    """`rounds` rounds of every configuration; each round's list in the order of `configs`.

    Each round starts with a different configuration (the order rotates), so a drift of the
    machine over the run (other work, the page cache, CPU frequency) does not always fall on the
    same configuration; comparing configurations within a round keeps them close in time.
    """
    results: list[list[Measured]] = []
    for number in range(rounds):
        by_name = {}
        for config in rotated(configs, number):
            label = f"round {number + 1}/{rounds}, {config.name}" if rounds > 1 else config.name
            by_name[config.name] = measure(
                config,
                users=users,
                duration_s=duration_s,
                warmup_s=warmup_s,
                progress=progress,
                label=label,
            )
            time.sleep(1)  # let ports and the page cache settle before the next stack
        results.append([by_name[c.name] for c in configs])
    return results


def rotated(items: Sequence[T], number: int) -> list[T]:
    """The order of round `number`: each round starts one item later than the one before."""
    shift = number % len(items)
    return [*items[shift:], *items[:shift]]


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def combine(rounds: list[list[Measured]]) -> list[Measured]:
    """One Measured per configuration: the median round's figures, CPU and memory over all rounds.

    Throughput and percentiles are medians of the rounds' values (one disturbed round does not
    move them); CPU per payment sums CPU and payments over every round; memory is the peak.
    """
    combined = []
    for index, first in enumerate(rounds[0]):
        runs = [r[index] for r in rounds]
        loads = [m.load for m in runs]
        load = LoadResult(
            requests=sum(x.requests for x in loads),
            failures=sum(x.failures for x in loads),
            rps=_median([x.rps for x in loads]),
            p50_ms=_median([x.p50_ms for x in loads]),
            p95_ms=_median([x.p95_ms for x in loads]),
            p99_ms=_median([x.p99_ms for x in loads]),
        )
        for x in loads:
            for error, count in x.failures_by_error.items():
                load.failures_by_error[error] = load.failures_by_error.get(error, 0) + count
        memory: dict[str, list[int]] = {}
        cpu: dict[str, float] = {}
        for m in runs:
            for service, values in m.memory_kb.items():
                memory.setdefault(service, []).extend(values)
            for service, seconds in m.cpu_s.items():
                cpu[service] = cpu.get(service, 0.0) + seconds
        exports = [m.exported_requests for m in runs if m.exported_requests is not None]
        merged = Measured(first.config, load, memory, sum(exports) if exports else None, cpu)
        merged.load_average = max(m.load_average for m in runs)
        combined.append(merged)
    return combined


def throughput_ratios(rounds: list[list[Measured]], config: Config) -> list[float]:
    """Per round: the configuration's payments/s over the not-instrumented one's in that round."""
    ratios = []
    for measured in rounds:
        base = next((m for m in measured if not m.config.instrumented), None)
        this = next((m for m in measured if m.config == config), None)
        if base and this and base.load.rps > 0:
            ratios.append(this.load.rps / base.load.rps)
    return ratios


# -- the report ---------------------------------------------------------------------------------

P99_TARGET_MS = 200.0
THROUGHPUT_LOSS_TARGET = 0.10  # at 10% sampling
RSS_TARGET_MB = 200.0


def report(rounds: list[list[Measured]], users: int, duration_s: int) -> list[str]:
    measured = combine(rounds)
    per_round = f"median of {len(rounds)} rounds, " if len(rounds) > 1 else ""
    lines = [
        f"payments: {users} concurrent users, {duration_s} s per configuration"
        + (f" in each of {len(rounds)} rounds" if len(rounds) > 1 else "")
        + ", signed POST /api/v1/payments",
        f"machine: {os.cpu_count()} CPUs; highest 1-minute load average at the start of a configuration: "
        + ", ".join(f"{m.load_average:.1f}" for m in measured)
        + " (PostgreSQL, Redis, tansu, the OTLP sink and Locust share these CPUs with the services)",
        "",
        f"{'configuration':<18} {'payments/s':>10} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'errors':>7}"
        f" {'payments':>9} {'exports':>8}   ({per_round}payments and exports summed)",
    ]
    for m in measured:
        r = m.load
        exports = "-" if m.exported_requests is None else str(m.exported_requests)
        lines.append(
            f"{m.config.name:<18} {r.rps:>10.1f} {r.p50_ms:>7.0f} {r.p95_ms:>7.0f} {r.p99_ms:>7.0f}"
            f" {r.error_rate:>7.2%} {r.requests:>9d} {exports:>8}"
        )
    base = next((m for m in measured if not m.config.instrumented), None)
    if base and base.load.rps > 0:
        lines.append("")
        lines.append(
            "overhead against not instrumented"
            " (payments/s: median of the rounds' own ratios; p99: ratio of the medians):"
        )
        for m in measured:
            if m is base:
                continue
            ratios = throughput_ratios(rounds, m.config)
            throughput = _median(ratios)
            p99 = m.load.p99_ms / base.load.p99_ms if base.load.p99_ms else float("nan")
            each = f"; rounds: {', '.join(f'x{r:.3f}' for r in ratios)}" if len(ratios) > 1 else ""
            lines.append(
                f"  {m.config.name:<16} throughput x{throughput:.3f}"
                f" ({1 - throughput:.1%} fewer payments/s), p99 x{p99:.2f}{each}"
            )
    for m in measured:
        for error, count in sorted(m.load.failures_by_error.items()):
            lines.append(f"  {m.config.name}: failed {count} x {error}")
    services = sorted({s for m in measured for s in m.memory_kb})
    lines += ["", "CPU seconds per payment, by service (user + system, all processes):"]
    lines.append(f"  {'service':<14}" + "".join(f" {m.config.name:>18}" for m in measured))
    for service in services:
        cells = []
        for m in measured:
            per = m.cpu_s.get(service, 0.0) / m.load.requests * 1000 if m.load.requests else 0.0
            cells.append(f"{per:.1f} ms")
        lines.append(f"  {service:<14}" + "".join(f" {c:>18}" for c in cells))
    totals = [sum(m.cpu_s.values()) / m.load.requests * 1000 if m.load.requests else 0.0 for m in measured]
    lines.append(f"  {'total':<14}" + "".join(f" {f'{t:.1f} ms':>18}" for t in totals))
    lines += ["", "peak resident memory per process (VmHWM, MB; largest process of each service):"]
    lines.append(f"  {'service':<14}" + "".join(f" {m.config.name:>18}" for m in measured))
    for service in services:
        cells = []
        for m in measured:
            values = m.memory_kb.get(service, [])
            cells.append(f"{max(values) / 1024:.0f} ({len(values)} procs)" if values else "-")
        lines.append(f"  {service:<14}" + "".join(f" {c:>18}" for c in cells))
    lines += ["", *verdicts(measured, rounds)]
    return lines


def verdicts(measured: list[Measured], rounds: list[list[Measured]]) -> list[str]:
    out = ["targets:"]
    for m in measured:
        met = m.load.p99_ms < P99_TARGET_MS
        out.append(
            f"  p99 < {P99_TARGET_MS:.0f} ms, {m.config.name}: {_verdict(met)} ({m.load.p99_ms:.0f} ms)"
        )
    base = next((m for m in measured if not m.config.instrumented), None)
    tenth = next((m for m in measured if m.config.sampling == 0.1), None)
    ratios = throughput_ratios(rounds, tenth.config) if tenth else []
    if base and tenth and ratios:
        loss = 1 - _median(ratios)
        met = loss <= THROUGHPUT_LOSS_TARGET
        out.append(
            f"  at 10% sampling at most {THROUGHPUT_LOSS_TARGET:.0%} fewer payments/s: "
            f"{_verdict(met)} ({loss:+.1%})"
        )
    peak = max((kb for m in measured for values in m.memory_kb.values() for kb in values), default=0) / 1024
    out.append(
        f"  < {RSS_TARGET_MB:.0f} MB per service process: {_verdict(peak < RSS_TARGET_MB)}"
        f" (largest {peak:.0f} MB)"
    )
    return out


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"
