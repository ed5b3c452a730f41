"""`obsctl generate` and `obsctl check`: the command line over obsctl/generate/artifacts.py."""

from __future__ import annotations

import sys
import time

import click

from obsctl.errors import ObsctlError


@click.command()
@click.option("--only", "only", multiple=True, help="Area(s): rules, dashboards, collector, helm.")
@click.option("--check", "check_only", is_flag=True, help="Write nothing; fail if committed files differ.")
def generate(only: tuple[str, ...], check_only: bool) -> None:
    """Regenerate every artifact from observability/ (or check them for drift)."""
    from obsctl.generate import artifacts

    started = time.perf_counter()
    try:
        generation = artifacts.render(list(only) or None)
    except KeyError as exc:
        raise click.UsageError(str(exc.args[0])) from exc
    if check_only:
        drifted = artifacts.drift(generation)
        if drifted:
            for rel in drifted:
                click.secho(f"drift: {rel}", fg="red", err=True)
            raise ObsctlError(
                f"{len(drifted)} generated file(s) differ from their sources; run `make generate` and commit"
            )
        click.echo(f"generate --check: {len(generation.files)} files up to date")
        return
    changed = artifacts.write(generation)
    took = time.perf_counter() - started
    for rel in changed:
        click.echo(f"wrote {rel}")
    click.echo(f"generate: {len(generation.files)} files, {len(changed)} changed, {took:.2f}s")


@click.command()
@click.option("--only", "only", multiple=True, help="Area(s): rules, dashboards, collector, helm.")
def check(only: tuple[str, ...]) -> None:
    """Static checks of the generated files (promtool, amtool, collector validation, helm lint)."""
    from obsctl.generate import artifacts

    try:
        selected = artifacts.checks(list(only) or None)
    except KeyError as exc:
        raise click.UsageError(str(exc.args[0])) from exc
    failed = False
    for name, fn in selected:
        problems = fn()
        for p in problems:
            click.secho(f"{name}: {p}", fg="red", err=True)
        failed |= bool(problems)
        if not problems:
            click.echo(f"check {name}: ok")
    if failed:
        sys.exit(1)
