"""`obsctl slo`: validate SLO specs (Sloth prometheus/v1, OpenSLO v1) and generate their rules."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from obsctl.errors import ObsctlError, Problem
from obsctl.generate.files import write_atomically


@click.group()
def slo() -> None:
    """SLO specs: validate them, generate their Prometheus rules (Sloth-compatible)."""


_INPUT = click.option(
    "-i",
    "--input",
    "input_path",
    required=True,
    type=click.Path(path_type=Path),
    help="An SLO spec file, or a directory of *.yaml/*.yml specs.",
)


@slo.command()
@_INPUT
def validate(input_path: Path) -> None:
    """Check SLO specs; every problem names the file, the SLO, the field and what was expected."""
    from obsctl.generate.slo import load

    slos = load.read(input_path)
    click.echo(f"ok: {len(slos)} SLO(s) in {len(load.spec_files(input_path))} file(s)")


def _labels(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep or not key:
            raise ObsctlError([Problem(file="--extra-labels", message=f"got {v!r}; expected key=value")])
        out[key] = value
    return out


@slo.command()
@_INPUT
@click.option("-o", "--out", "out", required=True, help="Output rules file, or - for standard output.")
@click.option(
    "-p",
    "--default-slo-period",
    "period",
    type=click.Choice(["30d", "28d", "7d"]),
    default=None,
    help="Period of SLOs whose spec has none (Sloth specs). Default: slo-policy.yaml defaults.period.",
)
@click.option(
    "-l",
    "--extra-labels",
    "extra_labels",
    multiple=True,
    metavar="KEY=VALUE",
    help="Label added to every rule.",
)
@click.option("--disable-alerts", is_flag=True, help="Only recording rules.")
@click.option(
    "--disable-recordings", is_flag=True, help="Only alert rules (the recordings come from elsewhere)."
)
@click.option(
    "--reset-window",
    type=click.Choice(["5m", "30m"]),
    default=None,
    help="Page only while errors still burn over this window too, so pages resolve soon after "
    "recovery (see docs/slos.md). Default: off, exactly Sloth's alerts.",
)
def generate(
    input_path: Path,
    out: str,
    period: str | None,
    extra_labels: tuple[str, ...],
    disable_alerts: bool,
    disable_recordings: bool,
    reset_window: str | None,
) -> None:
    """Generate Prometheus rules (SLI and metadata recordings, burn-rate alerts) from SLO specs.

    Nothing is written unless every spec is valid.
    """
    from obsctl.generate.rules import slo_rules
    from obsctl.generate.rules.generate import options
    from obsctl.generate.rules.yamlout import dump
    from obsctl.generate.slo import load

    slos = load.read(input_path)
    overrides: dict[str, object] = {
        "extra_labels": _labels(extra_labels),
        "disable_alerts": disable_alerts,
        "disable_recordings": disable_recordings,
    }
    if period:
        overrides["period"] = period
    base = options()
    # Specs from elsewhere get Sloth's alerts unless the reset guard is asked for; the repository's
    # own SLOs (`obsctl generate`) take it from slo-policy.yaml.
    overrides["page"] = base.page.model_copy(update={"reset_window": reset_window})
    opts = options(**overrides)
    content = dump(
        {"groups": slo_rules.groups(slos, opts)}, comment=f"SLO rules from {input_path} ({len(slos)} SLOs)."
    )
    if out == "-":
        sys.stdout.write(content)
        return
    write_atomically(Path(out), content)
    click.echo(f"wrote {out}: {len(slos)} SLO(s)", err=True)
