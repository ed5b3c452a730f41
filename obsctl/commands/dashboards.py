"""`obsctl dashboards ...`: format the jsonnet sources, list and lint the generated dashboards."""

from __future__ import annotations

import sys

import click

from obsctl.generate.dashboards import fmt, lint, queries, render


@click.group()
def dashboards() -> None:
    """Grafana dashboards from dashboards/src (jsonnet)."""


@dashboards.command("fmt")
def fmt_command() -> None:
    """Reformat dashboards/**/*.jsonnet and *.libsonnet as jsonnetfmt does."""
    changed = fmt.format_in_place()
    for rel in changed:
        click.echo(f"formatted {rel}")
    click.echo(f"fmt: {len(fmt.sources())} files, {len(changed)} changed")


@dashboards.command("targets")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", help="Template variable value.")
def targets_command(variables: tuple[str, ...]) -> None:
    """Print every dashboard target with template variables substituted."""
    values: dict[str, list[str]] = {}
    for item in variables:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE", param_hint="--var")
        values.setdefault(name, []).append(value)
    for t in queries.all_targets(values):
        click.echo(f"{t.dashboard}\t{t.panel}\t{t.ref_id}\t{' '.join(t.expr.split())}")


@dashboards.command("lint")
def lint_command() -> None:
    """Run the dashboard-linter rules on the generated dashboards."""
    found = [f for d in render.dashboards().values() for f in lint.findings(d)]
    for f in found:
        click.secho(str(f), fg="red", err=True)
    click.echo(f"lint: {len(found)} finding(s)")
    sys.exit(1 if found else 0)
