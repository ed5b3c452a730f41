"""`obsctl up`, `obsctl down`, `obsctl status`: the local stack (see obsctl/run/stack/)."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from obsctl.run.stack.stack import Stack

console = Console(highlight=False)


class RichReporter:
    """One line per component: name, URL, time to ready (or "running" when kept)."""

    def step(self, message: str) -> None:
        console.print(f"[dim]…[/dim] {message}")

    def component(self, name: str, url: str, seconds: float | None, kept: bool) -> None:
        took = "[yellow]already running[/yellow]" if kept else f"[green]ready[/green] in {seconds or 0:.1f}s"
        console.print(f"[bold]{name:<13}[/bold] {url:<48} {took}")


def _components(only: str | None) -> list[str] | None:
    if not only:
        return None
    return [name for name in only.split(",") if name.strip()]


state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where data, logs and pid files live (default .local/).",
)
only_option = click.option(
    "--only",
    metavar="A,B,...",
    help="Components: postgres, redis, tansu (kafka), jaeger, victorialogs (logs), otelcol (collector), "
    "a service name, webhook, alertmanager, prometheus; groups infra, telemetry, services, alerting, all. "
    "Dependencies are added.",
)


@click.command()
@only_option
@state_dir_option
def up(only: str | None, state_dir: Path | None) -> None:
    """Start the local stack (components already running are kept) and write .local/stack.env."""
    stack = Stack(state_dir, reporter=RichReporter())
    with console.status("starting the local stack"):
        stack.up(_components(only))
    console.print(f"[green]stack up[/green]; variables in {stack.env_file} (`make down` stops it)")


@click.command()
@only_option
@state_dir_option
def down(only: str | None, state_dir: Path | None) -> None:
    """Stop what `obsctl up` started (verified by pid, start time and program), and nothing else."""
    stack = Stack(state_dir, reporter=RichReporter())
    stopped = stack.down(_components(only))
    console.print(f"stopped {len(stopped)} component(s)" + (f": {', '.join(stopped)}" if stopped else ""))


@click.command()
@state_dir_option
def status(state_dir: Path | None) -> None:
    """Show each component of the local stack: running or not, pid, URL, log."""
    stack = Stack(state_dir)
    table = Table(box=None)
    for column in ("component", "state", "pid", "url", "log"):
        table.add_column(column, overflow="fold")
    for row in stack.status():
        state = "[green]running[/green]" if row.running else "[dim]stopped[/dim]"
        table.add_row(row.name, state, str(row.pid or ""), row.url or "", row.log or "")
    console.print(table)
