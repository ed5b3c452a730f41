"""`obsctl demo` (make demo): generate, run, break, watch the SLO page fire and resolve."""

from __future__ import annotations

import sys

import click

from obsctl.run import demo as demo_module


@click.command()
@click.option("--keep/--no-keep", default=True, show_default=True, help="Leave the stack running afterwards.")
@click.option(
    "--rate",
    type=click.FloatRange(min=1, max=200),
    default=demo_module.DEFAULT_RATE,
    show_default=True,
    help="Requests per second of background traffic (80% payments); the demo prints it as a share "
    "of this host's capacity at the latency SLO.",
)
@click.option(
    "--warmup",
    type=click.IntRange(min=10, max=600),
    default=60,
    show_default=True,
    help="Seconds of healthy traffic before the fault.",
)
def demo(keep: bool, rate: float, warmup: int) -> None:
    """The main job: traffic, a real fault, the SLO page firing and resolving, a summary."""
    sys.exit(demo_module.run(keep=keep, rate=rate, warmup_s=warmup))
