"""`obsctl bench`: figures, not assertions. Without a subcommand it runs every benchmark.

Areas add their benchmark as a subcommand of this group.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click
import yaml


def _progress(message: str) -> None:
    click.echo(f"  .. {message}", err=True)


def _rounds(help_text: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The --rounds option of the benchmarks that repeat their configurations."""
    return click.option("--rounds", type=click.IntRange(1, 20), default=3, show_default=True, help=help_text)


@click.group(invoke_without_command=True)
@click.pass_context
def bench(ctx: click.Context) -> None:
    """Run the benchmarks (all of them when no subcommand is given)."""
    if ctx.invoked_subcommand is None:
        for name in sorted(bench.commands):
            click.echo(f"== bench {name}")
            ctx.invoke(bench.commands[name])


def _synthetic_spec(n: int) -> dict[str, object]:
    return {
        "version": "prometheus/v1",
        "service": "bench",
        "labels": {"team": "platform"},
        "slos": [
            {
                "name": f"slo-{i:04d}",
                "objective": 99.9,
                "sli": {
                    "events": {
                        "error_query": f'sum(rate(http_server_request_duration_seconds_count{{job="svc{i}",'
                        f'http_response_status_code=~"5.."}}[{{{{.window}}}}]))',
                        "total_query": f'sum(rate(http_server_request_duration_seconds_count{{job="svc{i}"}}'
                        f"[{{{{.window}}}}]))",
                    }
                },
                "alerting": {"name": f"Bench{i:04d}BudgetBurn"},
            }
            for i in range(n)
        ],
    }


@bench.command()
@click.option("--sizes", default="10,100,1000", show_default=True, help="Numbers of synthetic SLOs.")
def rules(sizes: str) -> None:
    """Time SLO rule generation (read, validate, render) for growing numbers of SLOs."""
    from obsctl.generate.rules import slo_rules
    from obsctl.generate.rules.generate import options
    from obsctl.generate.rules.yamlout import dump
    from obsctl.generate.slo import load

    opts = options()
    click.echo(f"{'SLOs':>6} {'rules':>7} {'seconds':>8} {'ms/SLO':>7}  (best of 3)")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in sizes.split(",")):
            spec = Path(tmp) / f"bench-{n}.yaml"
            spec.write_text(yaml.safe_dump(_synthetic_spec(n)), encoding="utf-8")
            # Best of three: the figure is the generator's cost, not the machine's other load.
            took = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                slos = load.read(spec)
                groups = slo_rules.groups(slos, opts)
                dump({"groups": groups})
                took = min(took, time.perf_counter() - started)
            count = sum(len(g["rules"]) for g in groups)
            click.echo(f"{n:>6} {count:>7} {took:>8.3f} {1000 * took / n:>7.2f}")


@bench.command()
@click.option("--users", type=click.IntRange(1, 500), default=50, show_default=True, help="Concurrent users.")
@click.option(
    "--duration",
    type=click.IntRange(5, 3600),
    default=20,
    show_default=True,
    help="Seconds per configuration in each round (the measured run).",
)
@_rounds("Rounds of all the configurations; figures are medians over the rounds.")
@click.option(
    "--warmup", type=click.IntRange(0, 600), default=5, show_default=True, help="Unmeasured seconds first."
)
@click.option(
    "--arrivals",
    type=click.Choice(["poisson", "constant"]),
    default=None,
    help="Open loop: payments arrive at fixed rates (Poisson or evenly spaced) instead of from --users "
    "closed-loop users, and each configuration's capacity at p99 < 200 ms is searched. "
    "Implied (poisson) by --rate, --baseline and the other open-loop options.",
)
@click.option(
    "--rate", type=click.FloatRange(0.5, 5000), default=None, help="Open loop: the measured rate (20/s)."
)
@click.option(
    "--search/--no-search", default=True, show_default=True, help="Open loop: search the capacity at the SLO."
)
@click.option(
    "--probe-duration",
    type=click.FloatRange(2, 600),
    default=10,
    show_default=True,
    help="Open loop: seconds per rate tried by the search.",
)
@click.option(
    "--probe-payments",
    type=click.IntRange(1, 100_000),
    default=150,
    show_default=True,
    help="Open loop: a probe lasts long enough for this many payments (at most 4 x --probe-duration).",
)
@click.option(
    "--start-rate",
    type=click.FloatRange(0.5, 5000),
    default=10,
    show_default=True,
    help="Open loop: the search's first rate (doubled while it passes, then bisected).",
)
@click.option(
    "--max-rate",
    type=click.FloatRange(1, 10000),
    default=400,
    show_default=True,
    help="Open loop: the highest rate the search tries.",
)
@click.option(
    "--baseline",
    "baseline_rev",
    metavar="REV",
    default=None,
    help="Add the services of another revision (a git worktree with its own virtualenv, started the "
    "way that revision starts them, uninstrumented) as the configuration `baseline`.",
)
@click.option("--keep-baseline", is_flag=True, help="Keep the baseline's worktree for the next run.")
@click.option(
    "--collector",
    is_flag=True,
    help="Open loop: the instrumented configurations export to the stack's real collector (with "
    "Jaeger and VictoriaLogs) instead of the counting sink, and its CPU per payment is reported.",
)
@click.option(
    "--durable-postgres",
    is_flag=True,
    help="Open loop: this revision's stacks run PostgreSQL durably (fsync and synchronous_commit "
    "on, the stack's default) instead of as the baseline runs it (both off).",
)
@click.option(
    "--slices",
    type=click.IntRange(1, 100),
    default=1,
    show_default=True,
    help="Open loop: measure the run at --rate in this many slices per configuration, with every "
    "configuration's stack up at once and the configurations taking turns, so that a change in "
    "the host's speed falls on all of them alike (1: one configuration at a time).",
)
@click.option(
    "--levers",
    is_flag=True,
    help="Open loop: add the configurations `unsampled` (every instrumentation on, nothing sampled) "
    "and `unsampled_no_<name>` for each instrumentation switched off in turn, and the log levers "
    "against sampled_10 (`sampled_10_no_otlp_logs`: no OTLP log handler or export; "
    "`sampled_10_otlp_warnings`: the handler for warnings and errors only), and report what each "
    "saves per payment. Use with --slices (and --no-search): the savings are small beside the host's drift.",
)
@click.option(
    "--profile",
    "profile_s",
    type=click.FloatRange(0, 600),
    default=0,
    show_default=True,
    metavar="SECONDS",
    help="Open loop: after each instrumented configuration's measured run, run this long at --rate with "
    "py-spy on every service and report the CPU per payment of each OpenTelemetry package "
    "(instrumentation, SDK, export threads) beside the rest (0: no profile). Needs py-spy (dev extra).",
)
@click.option(
    "--only",
    "only",
    metavar="A,B",
    default=None,
    help="Configurations to run: plain, sampled_10, sampled_100, and the levers' (unsampled, "
    "unsampled_no_flask, ..., sampled_10_no_otlp_logs, sampled_10_otlp_warnings); baseline comes "
    "with --baseline.",
)
@click.option(
    "--json",
    "json_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the figures to this JSON file.",
)
def payments(
    users: int,
    duration: int,
    rounds: int,
    warmup: int,
    arrivals: str | None,
    rate: float | None,
    search: bool,
    probe_duration: float,
    probe_payments: int,
    start_rate: float,
    max_rate: float,
    baseline_rev: str | None,
    keep_baseline: bool,
    collector: bool,
    durable_postgres: bool,
    slices: int,
    levers: bool,
    profile_s: float,
    only: str | None,
    json_file: Path | None,
) -> None:
    """Payments/s, latency, CPU and memory of plain, 10% and 100% sampled services side by side
    (and another revision's with --baseline); open loop with the capacity at p99 < 200 ms."""
    import json

    from obsctl.errors import ObsctlError
    from obsctl.run.telemetry import bench as payments_bench
    from obsctl.run.telemetry.baseline import BaselineRevision

    known = (*payments_bench.CONFIGS, *payments_bench.LEVERS)
    wanted = {c.name for c in payments_bench.CONFIGS}
    if only:
        wanted = {name.strip() for name in only.split(",") if name.strip()}
        unknown = wanted - {c.name for c in known}
        if unknown:
            raise ObsctlError(
                f"--only: unknown configuration(s): {', '.join(sorted(unknown))}; "
                f"expected any of {', '.join(c.name for c in known)}"
            )
    if levers:
        wanted |= {c.name for c in payments_bench.LEVERS}
    configs = tuple(c for c in known if c.name in wanted)
    open_loop = (
        arrivals is not None
        or rate is not None
        or baseline_rev is not None
        or collector
        or slices > 1
        or profile_s > 0
        or any(c in payments_bench.LEVERS for c in configs)
    )
    if not open_loop:
        measured = payments_bench.run(
            users=users,
            duration_s=duration,
            warmup_s=warmup,
            rounds=rounds,
            progress=_progress,
            configs=configs,
        )
        for line in payments_bench.report(measured, users, duration):
            click.echo(line)
        settings: dict[str, object] = {
            "mode": "closed",
            "users": users,
            "duration_s": duration,
            "rounds": rounds,
        }
        if json_file:
            json_file.write_text(json.dumps(payments_bench.to_json(measured, settings), indent=2) + "\n")
        return
    options = payments_bench.OpenLoop(
        rate=rate or 20.0,
        duration_s=duration,
        warmup_s=warmup,
        arrivals=arrivals or "poisson",
        search=search,
        probe_s=probe_duration,
        probe_payments=probe_payments,
        start_rate=start_rate,
        max_rate=max_rate,
        collector=collector,
        durable_postgres=durable_postgres,
        slices=slices,
        profile_s=profile_s,
    )
    if profile_s:
        from obsctl.run.telemetry.attribution import py_spy

        py_spy()  # missing: say so before any stack starts
    baseline = None
    if baseline_rev:
        baseline = BaselineRevision.resolve(baseline_rev)
        baseline.prepare(_progress)
        configs = (*configs, payments_bench.BASELINE)
    try:
        measured = payments_bench.run_open(
            options, progress=_progress, configs=configs, rounds=rounds, baseline=baseline
        )
    finally:
        if baseline is not None and not keep_baseline:
            baseline.remove()
    for line in payments_bench.report_open(measured, options):
        click.echo(line)
    if json_file:
        settings = {
            "mode": "open",
            "arrivals": options.arrivals,
            "rate": options.rate,
            "duration_s": options.duration_s,
            "rounds": rounds,
            "search": options.search,
            "probe_s": options.probe_s,
            "probe_payments": options.probe_payments,
            "baseline": None if baseline is None else {"rev": baseline.rev, "sha": baseline.sha},
            "collector": options.collector,
            "durable_postgres": options.durable_postgres,
            "slices": options.slices,
            "profile_s": options.profile_s,
            "configurations": [c.name for c in configs],
        }
        json_file.write_text(json.dumps(payments_bench.to_json(measured, settings), indent=2) + "\n")
        click.echo(f"figures written to {json_file}")


@bench.command()
@click.option(
    "--requests",
    type=click.IntRange(100, 1_000_000),
    default=3000,
    show_default=True,
    help="Requests per run.",
)
@_rounds("Runs per configuration; the lowest counts.")
@click.option(
    "--levers",
    is_flag=True,
    help="Also the unsampled configuration with one agent setting changed (LEVERS in"
    " obsctl/run/telemetry/hop.py), and what each changes per hop.",
)
def hop(requests: int, rounds: int, levers: bool) -> None:
    """CPU per request of one service hop: plain, instrumented unsampled, instrumented sampled."""
    from obsctl.run.telemetry import hop as hop_bench

    results = hop_bench.run(requests=requests, rounds=rounds, progress=_progress, levers=levers)
    for line in hop_bench.report(results, requests):
        click.echo(line)
