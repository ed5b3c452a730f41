"""`obsctl load`: signed payment traffic at a given rate against the running local stack."""

from __future__ import annotations

import math

import click

from obsctl.run.load.run import run_load
from obsctl.run.stack.stack import Stack

# One simulated user per 2 requests/s (at most 50): enough concurrency that a slow answer does
# not lower the offered rate, without starting more greenlets than needed.
_REQUESTS_PER_USER = 2.0
_MAX_USERS = 50


def users_for(rate: float) -> tuple[int, float]:
    users = max(1, min(_MAX_USERS, math.ceil(rate / _REQUESTS_PER_USER)))
    return users, rate / users


@click.command()
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1, max=2000),
    default=10,
    show_default=True,
    help="Requests per second (payments, refunds and reads in a 16:2:2 mix).",
)
@click.option(
    "--duration", type=click.IntRange(min=1, max=86400), default=60, show_default=True, help="Seconds to run."
)
def load(rate: float, duration: int) -> None:
    """Send signed payments, refunds and reads to the gateway of the running stack."""
    users, per_user = users_for(rate)
    click.echo(f"load: {rate:g} req/s for {duration}s ({users} users) against the local stack")
    result = run_load(Stack().env(), users=users, user_rate=per_user, duration_s=duration)
    click.echo(
        f"load: {result.requests} requests, {result.rps:.1f}/s, errors {result.error_rate:.2%}, "
        f"p50 {result.p50_ms:.0f} ms, p95 {result.p95_ms:.0f} ms, p99 {result.p99_ms:.0f} ms"
    )
    for name, stats in sorted(result.by_name.items()):
        click.echo(f"  {name:40} {int(stats['requests']):7d} req  p99 {stats['p99_ms']:.0f} ms")
    for error, count in sorted(result.failures_by_error.items()):
        click.echo(f"  failed: {count} x {error}")
