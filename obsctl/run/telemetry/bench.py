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
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from obsctl.errors import ObsctlError
from obsctl.run.load.openloop import OpenLoopResult, percentile, run_open_loop
from obsctl.run.load.run import LoadResult, run_load
from obsctl.run.stack.caller_env import overridden
from obsctl.run.stack.stack import Stack, seed_variables
from obsctl.run.stack.wait import free_port, wait_until
from obsctl.run.telemetry.attribution import NOT_OTEL, Attribution, Profiler
from obsctl.run.telemetry.baseline import BaselineRevision, BaselineStack
from obsctl.run.telemetry.capacity import Capacity, Probe, find_capacity

T = TypeVar("T")
USERS = 200


@dataclass(frozen=True)
class Config:
    name: str
    instrumented: bool
    sampling: float | None = None
    # Another revision's services (obsctl/run/telemetry/baseline.py), uninstrumented.
    baseline: bool = False
    # More service environment (a lever: one instrumentation switched off).
    variables: tuple[tuple[str, str], ...] = ()
    # The configuration this one is measured against: its CPU per payment minus this one's is
    # what the lever saves.
    lever_of: str | None = None


SAMPLED_10 = Config("sampled_10", instrumented=True, sampling=0.1)
CONFIGS = (
    Config("plain", instrumented=False),
    SAMPLED_10,
    Config("sampled_100", instrumented=True, sampling=1.0),
)
BASELINE = Config("baseline", instrumented=False, baseline=True)

# `--levers`: what each zero-code instrumentation costs a payment that is not sampled. Every
# instrumentation on and nothing sampled, then the same with one instrumentation off
# (OTEL_PYTHON_DISABLED_INSTRUMENTATIONS takes entry-point names; `logging` is the OTLP log
# handler and the trace context on log records).
UNSAMPLED = Config("unsampled", instrumented=True, sampling=0.0)
INSTRUMENTATIONS = ("flask", "urllib3", "psycopg", "redis", "kafka", "logging")
# What the services' logs cost at the chart's sampling: every log line goes through the OTLP log
# handler (opentelemetry-instrumentation-logging) and is exported, sampled or not. Against
# sampled_10: no handler and no log export (what shipping the JSON lines from files would save);
# the handler for warnings and errors only (OTEL_PYTHON_LOG_HANDLER_LEVEL, the instrumentation's
# own setting: the INFO lines then stay on stderr).
LOG_LEVERS = (
    Config(
        "sampled_10_no_otlp_logs",
        instrumented=True,
        sampling=SAMPLED_10.sampling,
        variables=(("OTEL_PYTHON_LOG_AUTO_INSTRUMENTATION", "false"), ("OTEL_LOGS_EXPORTER", "none")),
        lever_of=SAMPLED_10.name,
    ),
    Config(
        "sampled_10_otlp_warnings",
        instrumented=True,
        sampling=SAMPLED_10.sampling,
        variables=(("OTEL_PYTHON_LOG_HANDLER_LEVEL", "warning"),),
        lever_of=SAMPLED_10.name,
    ),
)
INSTRUMENTATION_LEVERS = tuple(
    Config(
        f"unsampled_no_{name}",
        instrumented=True,
        sampling=0.0,
        variables=(("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", name),),
        lever_of=UNSAMPLED.name,
    )
    for name in INSTRUMENTATIONS
)
LEVERS = (UNSAMPLED, *INSTRUMENTATION_LEVERS, *LOG_LEVERS)


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
    # Open loop: the capacity search (None in the closed-loop mode, or without a search)
    capacity: Capacity | None = None
    # CPU seconds of the OpenTelemetry collector during the measured run (with --collector)
    collector_cpu_s: float | None = None
    # py-spy samples by OpenTelemetry package (--profile, instrumented configurations)
    attribution: Attribution | None = None

    @property
    def otel_ms_per_payment(self) -> dict[str, float] | None:
        """Each category of attribution.py in ms of CPU per payment: its share of each service's
        samples times that service's CPU per payment in the measured run."""
        if self.attribution is None:
            return None
        return self.attribution.ms_per_payment(self.cpu_ms_per_payment_by_service)

    @property
    def cpu_ms_per_payment(self) -> float:
        return sum(self.cpu_s.values()) / self.load.requests * 1000 if self.load.requests else 0.0

    @property
    def cpu_ms_per_payment_by_service(self) -> dict[str, float]:
        if not self.load.requests:
            return {service: 0.0 for service in sorted(self.cpu_s)}
        return {service: s / self.load.requests * 1000 for service, s in sorted(self.cpu_s.items())}

    @property
    def collector_cpu_ms_per_payment(self) -> float | None:
        if self.collector_cpu_s is None or not self.load.requests:
            return None
        return self.collector_cpu_s / self.load.requests * 1000

    @property
    def max_rss_mb(self) -> float:
        return max((kb for values in self.memory_kb.values() for kb in values), default=0) / 1024


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
        assert config.sampling is not None
        variables.update(
            {
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": f"{config.sampling:g}",
            }
        )
        if endpoint is not None:  # None: the stack's own collector (--collector)
            variables["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    variables.update(config.variables)
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


def cpu_of(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each named process tree (a service: its master and workers)."""
    return {name: sum(cpu_seconds(p) for p in process_tree(pid)) for name, pid in pids.items()}


def memory_of(pids: dict[str, int]) -> dict[str, list[int]]:
    """Peak resident memory (kB) of every process of each named process tree."""
    return {
        name: [kb for p in process_tree(pid) if (kb := peak_rss_kb(p)) is not None]
        for name, pid in pids.items()
    }


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
        capacities = [m.capacity for m in runs if m.capacity is not None]
        if capacities:
            merged.capacity = Capacity(
                _median([c.rate for c in capacities]),
                [p for c in capacities for p in c.probes],
                at_ceiling=all(c.at_ceiling for c in capacities),
            )
        collector = [m.collector_cpu_s for m in runs if m.collector_cpu_s is not None]
        merged.collector_cpu_s = sum(collector) if collector else None
        profiled = [m.attribution for m in runs if m.attribution is not None]
        if profiled:
            merged.attribution = Attribution()
            for attribution in profiled:
                for service, counts in attribution.samples.items():
                    merged.attribution.samples.setdefault(service, Counter()).update(counts)
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


# -- open loop: fixed arrival rates, and the capacity at the SLO -----------------------------------


@dataclass(frozen=True)
class OpenLoop:
    """How an open-loop measurement runs (`obsctl bench payments --arrivals ...`)."""

    rate: float  # payments/s of the measured run (CPU, memory and latency at the same rate for all)
    duration_s: float
    warmup_s: float
    arrivals: str = "poisson"
    search: bool = True
    probe_s: float = 10.0
    # A probe lasts long enough for this many payments (at most 4 x probe_s): a p99 of a few dozen
    # latencies is their maximum, one stall of the machine.
    probe_payments: int = 150
    start_rate: float = 10.0
    max_rate: float = 400.0
    precision: float = 0.10
    max_probes: int = 8
    collector: bool = False  # export to the stack's real collector (and measure its CPU), not the sink
    # PostgreSQL as the baseline runs it (fsync and synchronous_commit off, the stacks' setting
    # before issue 16), so that a comparison measures the services' code and not the disk's flush
    # latency; True runs this revision's stacks with production durability (the stack's default).
    durable_postgres: bool = False
    # The measured run in this many slices per configuration, all stacks up at once and the
    # configurations taking turns (measure_open); 1 measures one configuration at a time.
    slices: int = 1
    # Seconds of a run at `rate` with py-spy on every service of each instrumented configuration,
    # after its measured run (attribution.py); 0: no profile.
    profile_s: float = 0.0


def load_result(result: OpenLoopResult) -> LoadResult:
    """An open-loop run in the closed loop's terms (requests: payments sent)."""
    return LoadResult(
        requests=result.sent,
        failures=result.failures,
        rps=result.payments_per_s,
        p50_ms=result.p50_ms,
        p95_ms=percentile(result.latencies_ms, 0.95),
        p99_ms=result.p99_ms,
        failures_by_error=dict(result.failures_by_error),
    )


def probe_seconds(options: OpenLoop, rate: float) -> float:
    """How long a probe at `rate` lasts: probe_s, longer at low rates (see probe_payments)."""
    return round(min(max(options.probe_s, options.probe_payments / rate), 4 * options.probe_s), 1)


def probe_of(result: OpenLoopResult) -> Probe:
    return Probe(result.rate, result.payments_per_s, result.p50_ms, result.p99_ms, result.error_rate)


# obsctl/run/stack/postgres.py: "fast" turns fsync, synchronous_commit and full_page_writes off.
POSTGRES_DURABILITY_VARIABLE = "OBSCTL_POSTGRES_DURABILITY"
# Between probes: what a failed probe left queued drains before the next one starts.
SETTLE_S = 3.0
# py-spy's recording starts once it has attached to every process of the tree.
PROFILER_ATTACH_S = 1.0


@dataclass
class _Running:
    """One configuration's stack, up, with what its measurement reads."""

    config: Config
    label: str
    state: Path
    env: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)
    stack: Stack | None = None
    other: BaselineStack | None = None
    sink: SinkProcess | None = None
    collector_pid: int | None = None
    load_average: float = 0.0

    def cpu(self) -> tuple[dict[str, float], float | None]:
        """CPU seconds so far of each service (and of the collector, when it runs)."""
        collector = cpu_of({"otelcol": self.collector_pid})["otelcol"] if self.collector_pid else None
        return cpu_of(self.pids), collector

    def down(self) -> int | None:
        """Stop everything; the sink's count of exports (stopped last, so that the services'
        exports on shutdown are counted too)."""
        try:
            if self.other is not None:
                self.other.down()
            if self.stack is not None:
                self.stack.down()
        finally:
            exported = self.sink.stop() if self.sink else None
            shutil.rmtree(self.state, ignore_errors=True)
        return exported


def _start_open(
    config: Config,
    options: OpenLoop,
    *,
    progress: Callable[[str], None],
    label: str,
    baseline: BaselineRevision | None,
) -> _Running:
    running = _Running(config, label, _world_searchable_tempdir(), load_average=os.getloadavg()[0])
    collector = options.collector and config.instrumented
    running.sink = SinkProcess() if config.instrumented and not collector else None
    variables = _service_variables(config, running.sink.endpoint if running.sink else None)
    if not options.durable_postgres:
        variables[POSTGRES_DURABILITY_VARIABLE] = "fast"
    try:
        progress(f"{label}: starting the stack")
        if config.baseline:
            if baseline is None:
                raise ObsctlError("the baseline configuration needs a revision (--baseline REV)")
            running.other = BaselineStack(baseline, running.state)
            running.env = running.other.up(variables)
            running.pids = dict(running.other.pids)
        else:
            stack = running.stack = Stack(running.state, instrumented=config.instrumented)
            with overridden(variables):
                stack.up(["otelcol", "services"] if collector else ["services"])
            running.env = {**stack.env(), "GATEWAY_URL": stack.server("gateway").url}
            running.env.update(seed(stack))
            running.pids = {n: stack.server(n).pid for n in stack.services() if stack.server(n).running()}
            running.collector_pid = stack.server("otelcol").pid if collector else None
    except BaseException:
        running.down()
        raise
    return running


def _warm_up(running: _Running, options: OpenLoop, progress: Callable[[str], None]) -> None:
    if options.warmup_s:
        progress(f"{running.label}: warming up for {options.warmup_s:g} s at {options.rate:g}/s")
        run_open_loop(running.env, rate=options.rate, duration_s=options.warmup_s, arrivals=options.arrivals)


def _measured_slice(
    running: _Running, options: OpenLoop, duration_s: float
) -> tuple[OpenLoopResult, dict[str, float], float | None]:
    """A part of the measured run: what the load saw, and the CPU each service (and the
    collector) used meanwhile."""
    cpu_before, collector_before = running.cpu()
    result = run_open_loop(running.env, rate=options.rate, duration_s=duration_s, arrivals=options.arrivals)
    cpu_after, collector_after = running.cpu()
    cpu = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
    collector = None if collector_after is None else collector_after - (collector_before or 0.0)
    return result, cpu, collector


def _profiled_run(running: _Running, options: OpenLoop, progress: Callable[[str], None]) -> Attribution:
    """A run at the measured rate with py-spy on every service: where the Python time goes. Its
    own run, so that the sampler's pauses stay out of the measured CPU."""
    progress(f"{running.label}: {options.profile_s:g} s at {options.rate:g}/s with py-spy on every service")
    with tempfile.TemporaryDirectory(prefix="obsctl-profile-") as directory:
        profiler = Profiler(running.pids, Path(directory), options.profile_s)
        time.sleep(PROFILER_ATTACH_S)
        run_open_loop(running.env, rate=options.rate, duration_s=options.profile_s, arrivals=options.arrivals)
        return profiler.finish()


def _search(
    running: _Running, measured: Measured, options: OpenLoop, progress: Callable[[str], None]
) -> None:
    label = running.label
    progress(f"{label}: capacity at p99 < {P99_TARGET_MS:.0f} ms, {options.probe_s:g} s per rate")

    def probe(rate: float) -> Probe:
        time.sleep(SETTLE_S)
        return probe_of(
            run_open_loop(
                running.env, rate=rate, duration_s=probe_seconds(options, rate), arrivals=options.arrivals
            )
        )

    measured.capacity = find_capacity(
        probe,
        start=options.start_rate,
        max_rate=options.max_rate,
        precision=options.precision,
        max_probes=options.max_probes,
        progress=lambda line: progress(f"{label}:   {line}"),
    )
    progress(f"{label}: capacity {measured.capacity.rate:g} payments/s")
    # The search's peaks count for memory too.
    for name, values in memory_of(running.pids).items():
        measured.memory_kb[name] = values


def measure_open(
    configs: Sequence[Config],
    options: OpenLoop,
    *,
    progress: Callable[[str], None],
    label: str = "",
    baseline: BaselineRevision | None = None,
) -> list[Measured]:
    """Fresh stacks of `configs`, all up at once and each warmed up; the measured run at
    `options.rate`, in `options.slices` slices per configuration with the configurations taking
    turns, so that a change in the host's speed during the run falls on all of them alike; then
    each configuration's capacity search, one at a time, each stack stopped after its own (the
    stacks still up idle beside a search cost it their background work, ~17 ms of CPU a second
    each). With one configuration and one slice: warm-up, measured run, search."""
    prefix = f"{label}, " if label else ""
    running: list[_Running] = []
    exported: dict[str, int | None] = {}
    try:
        for config in configs:
            running.append(
                _start_open(config, options, progress=progress, label=prefix + config.name, baseline=baseline)
            )
        for each in running:
            _warm_up(each, options, progress)
        slice_s = options.duration_s / options.slices
        parts: dict[str, list[tuple[OpenLoopResult, dict[str, float], float | None]]] = {
            each.config.name: [] for each in running
        }
        for number in range(options.slices):
            for each in rotated(running, number):
                which = f"slice {number + 1}/{options.slices}, " if options.slices > 1 else ""
                progress(
                    f"{each.label}: {which}{options.rate:g} payments/s ({options.arrivals}) for {slice_s:g} s"
                )
                parts[each.config.name].append(_measured_slice(each, options, slice_s))
        results = []
        for each in running:
            pieces = parts[each.config.name]
            measured = Measured(
                each.config,
                load_result(OpenLoopResult.combined([r for r, _, _ in pieces])),
                memory_of(each.pids),
            )
            for _, used, _ in pieces:
                for name, seconds in used.items():
                    measured.cpu_s[name] = measured.cpu_s.get(name, 0.0) + seconds
            collectors = [c for _, _, c in pieces if c is not None]
            measured.collector_cpu_s = sum(collectors) if collectors else None
            measured.load_average = each.load_average
            results.append(measured)
        for each, measured in zip(list(running), results, strict=True):
            if options.profile_s and each.config.instrumented:
                measured.attribution = _profiled_run(each, options, progress)
        for each, measured in zip(list(running), results, strict=True):
            if options.search:
                _search(each, measured, options, progress)
            running.remove(each)
            exported[each.config.name] = each.down()
    finally:
        for each in running:
            exported[each.config.name] = each.down()
    for measured in results:
        measured.exported_requests = exported.get(measured.config.name)
    return results


def run_open(
    options: OpenLoop,
    *,
    progress: Callable[[str], None],
    configs: tuple[Config, ...] = CONFIGS,
    rounds: int = 1,
    baseline: BaselineRevision | None = None,
) -> list[list[Measured]]:
    """Like run(), open loop: `rounds` rotations of every configuration (the baseline among them),
    one configuration at a time, or all at once in slices (`options.slices` > 1)."""
    results: list[list[Measured]] = []
    for number in range(rounds):
        label = f"round {number + 1}/{rounds}" if rounds > 1 else ""
        order = rotated(configs, number)
        groups = [order] if options.slices > 1 else [[config] for config in order]
        by_name: dict[str, Measured] = {}
        for group in groups:
            for measured in measure_open(group, options, progress=progress, label=label, baseline=baseline):
                by_name[measured.config.name] = measured
            time.sleep(1)
        results.append([by_name[c.name] for c in configs])
    return results


def round_ratios(measured: list[Measured]) -> dict[str, float]:
    """The ratios of one round (configurations measured minutes apart): CPU per payment and
    capacity against the baseline, and CPU per payment of the sampled ones against plain."""
    by_name = {m.config.name: m for m in measured}
    ratios: dict[str, float] = {}
    base = by_name.get(BASELINE.name)
    plain = by_name.get("plain")
    for m in measured:
        if base is not None and m is not base:
            if base.cpu_ms_per_payment:
                ratios[f"{m.config.name}_cpu_vs_baseline"] = m.cpu_ms_per_payment / base.cpu_ms_per_payment
            if m.capacity is not None and base.capacity is not None and base.capacity.rate:
                ratios[f"{m.config.name}_capacity_vs_baseline"] = m.capacity.rate / base.capacity.rate
        if plain is not None and m.config.instrumented and plain.cpu_ms_per_payment:
            ratios[f"{m.config.name}_cpu_vs_plain"] = m.cpu_ms_per_payment / plain.cpu_ms_per_payment
    return ratios


def median_ratios(rounds: list[list[Measured]]) -> dict[str, float]:
    """Each ratio's median over the rounds (each round's own ratio, not the ratio of medians)."""
    per_round = [round_ratios(r) for r in rounds]
    names = sorted({k for r in per_round for k in r})
    return {k: _median([r[k] for r in per_round if k in r]) for k in names}


def round_savings(measured: list[Measured]) -> dict[str, dict[str, float]]:
    """What each lever saved in one round, ms of CPU per payment: its reference configuration's
    figure minus its own, in total ("total") and by service."""
    by_name = {m.config.name: m for m in measured}
    savings: dict[str, dict[str, float]] = {}
    for m in measured:
        reference = by_name.get(m.config.lever_of or "")
        if reference is None:
            continue
        mine, theirs = m.cpu_ms_per_payment_by_service, reference.cpu_ms_per_payment_by_service
        saved = {service: theirs[service] - mine.get(service, 0.0) for service in theirs}
        saved["total"] = reference.cpu_ms_per_payment - m.cpu_ms_per_payment
        savings[m.config.name] = saved
    return savings


def median_savings(rounds: list[list[Measured]]) -> dict[str, dict[str, float]]:
    """Each lever's savings, the median over the rounds of each figure."""
    per_round = [round_savings(r) for r in rounds]
    names = [m.config.name for m in rounds[0] if any(m.config.name in r for r in per_round)] if rounds else []
    medians: dict[str, dict[str, float]] = {}
    for name in names:
        figures = [r[name] for r in per_round if name in r]
        keys = sorted({k for f in figures for k in f})
        medians[name] = {k: _median([f[k] for f in figures if k in f]) for k in keys}
    return medians


# The targets of issue 17.
CPU_VS_BASELINE_TARGET = 0.5
CAPACITY_VS_BASELINE_TARGET = 2.0
SAMPLED_CPU_VS_PLAIN_TARGET = 1.2


def open_verdicts(rounds: list[list[Measured]]) -> list[tuple[str, bool | None, str]]:
    """(target, met or None when not measured, the figure) for each target."""
    ratios = median_ratios(rounds)
    measured = combine(rounds)
    out: list[tuple[str, bool | None, str]] = []

    def ratio(name: str, text: str, limit: float, at_most: bool) -> None:
        value = ratios.get(name)
        if value is None:
            out.append((text, None, "not measured"))
        else:
            out.append((text, value <= limit if at_most else value >= limit, f"x{value:.2f}"))

    cpu_text = f"service CPU per payment at most {CPU_VS_BASELINE_TARGET}x the baseline's"
    ratio("plain_cpu_vs_baseline", cpu_text, CPU_VS_BASELINE_TARGET, True)
    capacity_text = (
        f"capacity at p99 < {P99_TARGET_MS:.0f} ms at least {CAPACITY_VS_BASELINE_TARGET:g}x the baseline's"
    )
    ratio("plain_capacity_vs_baseline", capacity_text, CAPACITY_VS_BASELINE_TARGET, False)
    sampled_text = f"at 10% sampling at most {SAMPLED_CPU_VS_PLAIN_TARGET}x the plain CPU per payment"
    ratio("sampled_10_cpu_vs_plain", sampled_text, SAMPLED_CPU_VS_PLAIN_TARGET, True)
    peak = max((m.max_rss_mb for m in measured), default=0.0)
    out.append(
        (f"< {RSS_TARGET_MB:.0f} MB per service process", peak < RSS_TARGET_MB, f"largest {peak:.0f} MB")
    )
    return out


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def report_open(rounds: list[list[Measured]], options: OpenLoop) -> list[str]:
    measured = combine(rounds)
    n = len(rounds)
    longest = max((len(m.config.name) for m in measured), default=0)
    width, column = max(13, longest), max(12, longest)  # the two tables' name columns
    lines = [
        f"payments, open loop: {options.arrivals} arrivals at {options.rate:g}/s for {options.duration_s:g} s"
        f" per configuration"
        + (f" in {options.slices} slices taken in turns" if options.slices > 1 else "")
        + (f" in each of {n} rounds (medians)" if n > 1 else "")
        + (f"; capacity search {options.probe_s:g} s per rate" if options.search else ""),
        f"machine: {os.cpu_count()} CPUs; 1-minute load average at the start of each configuration"
        " (highest over the rounds): " + ", ".join(f"{m.config.name} {m.load_average:.1f}" for m in measured),
        "",
        f"{'configuration':<{width}} {'payments/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'errors':>7}"
        f" {'CPU/payment':>12} {'max RSS':>8} {'capacity':>9}",
    ]
    for m in measured:
        r = m.load
        cap = "-" if m.capacity is None else f"{m.capacity.rate:g}{'+' if m.capacity.at_ceiling else ''}/s"
        lines.append(
            f"{m.config.name:<{width}} {r.rps:>10.1f} {r.p50_ms:>7.0f} {r.p99_ms:>7.0f} {r.error_rate:>7.2%}"
            f" {_ms(m.cpu_ms_per_payment):>12} {m.max_rss_mb:>5.0f} MB {cap:>9}"
        )
    collectors = [m for m in measured if m.collector_cpu_ms_per_payment is not None]
    if collectors:
        each = ", ".join(f"{m.config.name} {_ms(m.collector_cpu_ms_per_payment)}" for m in collectors)
        lines.append(f"collector CPU per payment: {each}")
    for m in measured:
        for error, count in sorted(m.load.failures_by_error.items()):
            lines.append(f"  {m.config.name}: failed {count} x {error}")
    per_round = [round_ratios(r) for r in rounds]
    if any(per_round):
        lines += ["", "ratios (median of the rounds' own ratios; each round's in brackets):"]
        for name, value in median_ratios(rounds).items():
            each = ", ".join(f"{r[name]:.2f}" for r in per_round if name in r)
            lines.append(f"  {name:<34} x{value:.2f}" + (f"  [{each}]" if n > 1 else ""))
    services = sorted({s for m in measured for s in m.cpu_s})
    lines += ["", "CPU per payment, by service (user + system, all processes):"]
    lines.append(f"  {'service':<14}" + "".join(f" {m.config.name:>{column}}" for m in measured))
    for service in services:
        cells = [_ms(m.cpu_ms_per_payment_by_service.get(service)) for m in measured]
        lines.append(f"  {service:<14}" + "".join(f" {c:>{column}}" for c in cells))
    lines.append(f"  {'total':<14}" + "".join(f" {_ms(m.cpu_ms_per_payment):>{column}}" for m in measured))
    lines += _savings_lines(rounds, services)
    lines += _attribution_lines(measured, column)
    lines += ["", "targets:"]
    for text, met, figure in open_verdicts(rounds):
        lines.append(f"  {text}: " + ("not measured" if met is None else f"{_verdict(met)} ({figure})"))
    return lines


def _savings_lines(rounds: list[list[Measured]], services: list[str]) -> list[str]:
    savings = median_savings(rounds)
    if not savings:
        return []
    references = sorted({m.config.lever_of or "" for m in rounds[0] if m.config.name in savings})
    lines = [
        "",
        f"what each lever saves, ms of CPU per payment against {', '.join(references)}"
        + (" (median of the rounds)" if len(rounds) > 1 else "")
        + ":",
        f"  {'lever':<24}" + "".join(f" {name:>12}" for name in [*services, "total"]),
    ]
    for name, saved in savings.items():
        cells = [f"{saved[k]:+.2f}" if k in saved else "-" for k in [*services, "total"]]
        lines.append(f"  {name:<24}" + "".join(f" {c:>12}" for c in cells))
    return lines


def _attribution_lines(measured: list[Measured], column: int) -> list[str]:
    profiled = [m for m in measured if m.otel_ms_per_payment is not None]
    if not profiled:
        return []
    figures = {m.config.name: m.otel_ms_per_payment or {} for m in profiled}
    names = sorted({k for f in figures.values() for k in f if k != NOT_OTEL},
                   key=lambda k: -max(f.get(k, 0.0) for f in figures.values()))  # fmt: skip
    lines = [
        "",
        "where the Python time goes (py-spy --gil samples by OpenTelemetry package, times each service's"
        " CPU per payment), ms per payment:",
        f"  {'package':<18}" + "".join(f" {m.config.name:>{column}}" for m in profiled),
    ]

    def row(label: str, values: list[float]) -> str:
        return f"  {label:<18}" + "".join(f" {_ms(v):>{column}}" for v in values)

    for name in names:
        lines.append(row(name, [figures[m.config.name].get(name, 0.0) for m in profiled]))
    lines.append(row("OpenTelemetry", [sum(v for k, v in figures[m.config.name].items() if k != NOT_OTEL)
                                       for m in profiled]))  # fmt: skip
    lines.append(row(NOT_OTEL, [figures[m.config.name].get(NOT_OTEL, 0.0) for m in profiled]))
    return lines


def _figures(m: Measured) -> dict[str, object]:
    return {
        "payments_per_s": round(m.load.rps, 3),
        "p50_ms": round(m.load.p50_ms, 3),
        "p99_ms": round(m.load.p99_ms, 3),
        "error_rate": round(m.load.error_rate, 6),
        "cpu_ms_per_payment": round(m.cpu_ms_per_payment, 3),
        "max_rss_mb": round(m.max_rss_mb, 1),
        "capacity_at_p99_200ms": None if m.capacity is None else m.capacity.rate,
        "payments": m.load.requests,
        "failures_by_error": dict(m.load.failures_by_error),
        "cpu_ms_per_payment_by_service": {
            service: round(ms, 3) for service, ms in m.cpu_ms_per_payment_by_service.items()
        },
        "collector_cpu_ms_per_payment": (
            None if m.collector_cpu_ms_per_payment is None else round(m.collector_cpu_ms_per_payment, 3)
        ),
        "load_average_1m": round(m.load_average, 2),
        "otel_ms_per_payment": (
            None if (otel := m.otel_ms_per_payment) is None else {k: round(v, 3) for k, v in otel.items()}
        ),
        "profile_samples_by_service": (
            None
            if m.attribution is None
            else {service: dict(c.most_common()) for service, c in sorted(m.attribution.samples.items())}
        ),
        "capacity_probes": []
        if m.capacity is None
        else [
            {
                "rate": p.rate,
                "p50_ms": p.p50_ms,
                "p99_ms": p.p99_ms,
                "error_rate": p.error_rate,
                "passed": p.passed,
            }
            for p in m.capacity.probes
        ],
    }


def _rounded(savings: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    return {name: {k: round(v, 3) for k, v in saved.items()} for name, saved in savings.items()}


def to_json(rounds: list[list[Measured]], settings: dict[str, object]) -> dict[str, object]:
    """The document of `--json FILE`: per configuration the combined figures, each round's figures
    and ratios, the medians of the ratios and the verdicts."""
    document: dict[str, object] = {
        "settings": settings,
        "machine_cpus": os.cpu_count(),
        "configurations": {m.config.name: _figures(m) for m in combine(rounds)},
        "rounds": [
            {
                "round": number + 1,
                "configurations": {m.config.name: _figures(m) for m in measured},
                "ratios": {k: round(v, 4) for k, v in round_ratios(measured).items()},
                "savings_ms_per_payment": _rounded(round_savings(measured)),
            }
            for number, measured in enumerate(rounds)
        ],
        "ratios": {k: round(v, 4) for k, v in median_ratios(rounds).items()},
        "savings_ms_per_payment": _rounded(median_savings(rounds)),
        "targets": [{"target": t, "met": met, "figure": f} for t, met, f in open_verdicts(rounds)],
    }
    return document
