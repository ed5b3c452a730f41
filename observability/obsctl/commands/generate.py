"""`obsctl generate` and `obsctl check`."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import click

from obsctl import artifacts
from obsctl.errors import ObsctlError

# Static checks of generated files that `obsctl check` (part of `make check`) runs, by area.
# Each returns a list of problems (empty when fine). Areas append to this list at import time.
CHECKS: list[tuple[str, Callable[[], list[str]]]] = []


@click.command()
@click.option("--only", "only", multiple=True, help="Area(s): rules, dashboards, collector, helm.")
@click.option("--check", "check_only", is_flag=True, help="Write nothing; fail if committed files differ.")
def generate(only: tuple[str, ...], check_only: bool) -> None:
    """Regenerate every artifact from observability/ (or check them for drift)."""
    started = time.perf_counter()
    names = list(only) or None
    try:
        files = artifacts.render(names)
    except KeyError as exc:
        raise click.UsageError(str(exc.args[0])) from exc
    stale = artifacts.stale_files(names, files)
    if check_only:
        drifted = artifacts.drift(files, stale)
        if drifted:
            for rel in drifted:
                click.secho(f"drift: {rel}", fg="red", err=True)
            raise ObsctlError(
                f"{len(drifted)} generated file(s) differ from their sources; run `make generate` and commit"
            )
        click.echo(f"generate --check: {len(files)} files up to date")
        return
    changed = artifacts.write(files, stale)
    took = time.perf_counter() - started
    for rel in changed:
        click.echo(f"wrote {rel}")
    click.echo(f"generate: {len(files)} files, {len(changed)} changed, {took:.2f}s")


@click.command()
def check() -> None:
    """Static checks of the generated files (promtool, amtool, config validation)."""
    artifacts.areas()  # areas register their checks on import
    failed = False
    for name, fn in CHECKS:
        problems = fn()
        for p in problems:
            click.secho(f"{name}: {p}", fg="red", err=True)
        failed |= bool(problems)
        if not problems:
            click.echo(f"check {name}: ok")
    if failed:
        sys.exit(1)


def run_tool(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run an external checker (promtool, amtool) and capture its output."""
    return subprocess.run(args, capture_output=True, text=True, check=False)
