"""`obsctl fault list|set|clear`: real faults in the running local stack."""

from __future__ import annotations

import click

from obsctl.run import faults
from obsctl.run.stack.stack import Stack


@click.group()
def fault() -> None:
    """Inject real faults into the running local stack (`make up`)."""


@fault.command("list")
def list_faults() -> None:
    """Every fault and its current state."""
    for f, current in faults.state(Stack()):
        click.echo(f"{f.name:18} {current:28} {f.description}")


# ignore_unknown_options: a negative VALUE ("-5") reaches the value check instead of being taken
# for an option.
@fault.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("name", type=click.Choice(sorted(faults.FAULTS)))
@click.argument("value")
def set_fault(name: str, value: str) -> None:
    """Turn fault NAME on or off, or set it to a VALUE (a share 0..1, or milliseconds for latency)."""
    click.echo(faults.set_fault(Stack(), name, value))


@fault.command()
def clear() -> None:
    """Turn every fault off: reset the provider, start stopped components."""
    for line in faults.clear(Stack()) or ["nothing to clear"]:
        click.echo(line)
