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
    help="Seconds per configuration in each round.",
)
@_rounds("Rounds of all three configurations; figures are medians over the rounds.")
@click.option(
    "--warmup", type=click.IntRange(0, 600), default=5, show_default=True, help="Unmeasured seconds first."
)
def payments(users: int, duration: int, rounds: int, warmup: int) -> None:
    """Payments/s, latency and memory: not instrumented, 10% sampled and 100% sampled, side by side."""
    from obsctl.run.telemetry import bench as payments_bench

    measured = payments_bench.run(
        users=users,
        duration_s=duration,
        warmup_s=warmup,
        rounds=rounds,
        progress=_progress,
    )
    for line in payments_bench.report(measured, users, duration):
        click.echo(line)


@bench.command()
@click.option(
    "--requests",
    type=click.IntRange(100, 1_000_000),
    default=3000,
    show_default=True,
    help="Requests per run.",
)
@_rounds("Runs per configuration; the lowest counts.")
def hop(requests: int, rounds: int) -> None:
    """CPU per request of one service hop: plain, instrumented unsampled, instrumented sampled."""
    from obsctl.run.telemetry import hop as hop_bench

    results = hop_bench.run(requests=requests, rounds=rounds, progress=_progress)
    for line in hop_bench.report(results, requests):
        click.echo(line)
