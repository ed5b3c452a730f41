"""`obsctl slo`: validate SLO specs and generate their rules, as a drop-in for Sloth's command line.

Reads Sloth `prometheus/v1`, Sloth's Kubernetes `PrometheusServiceLevel`, OpenSLO `v1alpha` and
OpenSLO `v1`. The options are Sloth's (`sloth generate --help`), plus obsctl's own (reset guard,
output format, runbook links). Nothing of this repository's observability/ is applied to the specs
read here: `obsctl generate` does that for the repository's own SLOs.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from obsctl.errors import ObsctlError, Problem
from obsctl.generate.files import write_atomically


@click.group()
def slo() -> None:
    """SLO specs: validate them, generate their Prometheus rules (Sloth-compatible)."""


def _input_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "-i",
            "--input",
            "input_path",
            required=True,
            type=click.Path(path_type=Path),
            help="An SLO spec file, or a directory of *.yaml/*.yml specs (read recursively).",
        ),
        click.option(
            "-n",
            "--fs-include",
            "include",
            default=None,
            help="Regex: read only the files whose path matches it.",
        ),
        click.option(
            "-e",
            "--fs-exclude",
            "exclude",
            default=None,
            help="Regex: skip the files whose path matches it (wins over --fs-include).",
        ),
        click.option(
            "--default-slo-period",
            "period",
            default="30d",
            show_default=True,
            help="Period of SLOs whose spec sets none; one the alert windows define "
            "(built-in: 30d, 28d, 7d).",
        ),
        click.option(
            "--slo-period-windows-path",
            "windows_path",
            type=click.Path(path_type=Path, file_okay=False),
            default=None,
            help="A directory of Sloth AlertWindows files, replacing the built-in windows (any period).",
        ),
        click.option(
            "-s",
            "--slo-plugins",
            "slo_plugins",
            multiple=True,
            metavar="JSON",
            help="An SLO plugin every SLO runs, as Sloth writes it: "
            '{"id": ..., "priority": 0, "config": {...}}.',
        ),
        click.option(
            "--disable-default-slo-plugins",
            is_flag=True,
            help="Run only the declared plugins, not Sloth's default chain "
            "(validate, SLI, metadata, alert rules).",
        ),
        click.option(
            "--ignore-slo-duplicates",
            is_flag=True,
            help="Allow the same SLO (service and name) in several spec files, as Sloth's flag does.",
        ),
        click.option(
            "-p",
            "--plugins-path",
            "plugins_path",
            multiple=True,
            help="Accepted for Sloth's command lines; its Go plugins cannot run here and are refused by id.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _warn(problems: list[Problem]) -> None:
    for w in problems:
        click.secho(f"warning: {w}", fg="yellow", err=True)


def _read(
    input_path: Path,
    include: str | None,
    exclude: str | None,
    period: str,
    windows_path: Path | None,
    slo_plugins: tuple[str, ...],
    disable_default_slo_plugins: bool,
    ignore_slo_duplicates: bool,
    plugins_path: tuple[str, ...],
) -> tuple[Any, Any, Any]:
    from obsctl.generate.rules import windows
    from obsctl.generate.slo import load, periods

    if plugins_path:
        _warn(
            [
                Problem(
                    file="--plugins-path",
                    message=f"ignored ({', '.join(plugins_path)}): Sloth's plugins there are Go code; "
                    "specs naming one are refused",
                )
            ]
        )
    catalog = windows.load_catalog(windows_path) if windows_path is not None else windows.DEFAULT
    if periods.lookup(catalog, period) is None:
        raise ObsctlError([periods.unknown(catalog, period, "--default-slo-period")])
    app = load.app_plugins(slo_plugins)
    specs = load.load(
        input_path,
        include=include,
        exclude=exclude,
        app=app,
        disable_default_plugins=disable_default_slo_plugins,
        catalog=catalog,
        default_period=period,
        allow_duplicates=ignore_slo_duplicates,
    )
    _warn(specs.warnings)
    return specs, catalog, app


@slo.command()
@_input_options
def validate(**kwargs: Any) -> None:
    """Check SLO specs; every problem names the file, the SLO, the field and what was expected."""
    specs, _, _ = _read(**kwargs)
    click.echo(f"ok: {len(specs.slos)} SLO(s) in {len(specs.files)} file(s)")


def _labels(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep or not key:
            raise ObsctlError([Problem(file="--extra-labels", message=f"got {v!r}; expected key=value")])
        out[key] = value
    return out


def _one_output_each(slos: list[Any], tree: bool) -> None:
    """Refuse two SLOs of one id in one output (their rules would collide): in any output, or in
    one spec file's when each file has its own (`tree`)."""
    seen: dict[tuple[str, str], Any] = {}
    problems = []
    for s in slos:
        key = (s.source if tree else "", s.id)
        if key in seen:
            problems.append(
                Problem(
                    file=s.source,
                    obj=f"SLO {s.name}",
                    field="name",
                    message=f"duplicate SLO {s.id!r}, also in {seen[key].source}; expected one SLO of an id "
                    + (
                        "per spec file"
                        if tree
                        else "per output (-o DIRECTORY writes one output per spec file)"
                    ),
                )
            )
        seen.setdefault(key, s)
    if problems:
        raise ObsctlError(problems)


@slo.command()
@_input_options
@click.option(
    "-o",
    "--out",
    "out",
    default="-",
    show_default=True,
    help="Output rules file, - for standard output, or (with a directory input) an existing directory: "
    "one output per spec file, as Sloth writes them.",
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
    "--out-format",
    type=click.Choice(["prometheus", "prometheus-rule"]),
    default="prometheus",
    show_default=True,
    help="prometheus: a rules file. prometheus-rule: prometheus-operator PrometheusRule objects, one "
    "per spec document, named after a PrometheusServiceLevel's metadata as Sloth names them (else "
    "after the service).",
)
@click.option(
    "--reset-window",
    type=click.Choice(["5m", "30m"]),
    default=None,
    help="Page only while errors still burn over this window too, so pages resolve soon after "
    "recovery (see docs/slos.md). Default: off, exactly Sloth's alerts.",
)
@click.option(
    "--runbook-base-url",
    default=None,
    help="Add runbook_url: <base>#<alert name, lower case> to every alert. Default: none, as Sloth.",
)
@click.option(
    "--debug", is_flag=True, help="Log what the SLO plugins log at debug level (Sloth's debug plugin)."
)
def generate(
    out: str,
    extra_labels: tuple[str, ...],
    disable_alerts: bool,
    disable_recordings: bool,
    out_format: str,
    reset_window: str | None,
    runbook_base_url: str | None,
    debug: bool,
    **kwargs: Any,
) -> None:
    """Generate Prometheus rules (SLI and metadata recordings, burn-rate alerts) from SLO specs.

    Nothing is written unless every spec is valid.
    """
    handler: logging.Handler | None = None
    logger = logging.getLogger("obsctl.slo.plugins")
    if debug:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("debug: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        _generate(
            out,
            extra_labels,
            disable_alerts,
            disable_recordings,
            out_format,
            reset_window,
            runbook_base_url,
            kwargs,
        )
    finally:
        if handler is not None:
            logger.removeHandler(handler)
            logger.setLevel(logging.NOTSET)


def _generate(
    out: str,
    extra_labels: tuple[str, ...],
    disable_alerts: bool,
    disable_recordings: bool,
    out_format: str,
    reset_window: str | None,
    runbook_base_url: str | None,
    kwargs: dict[str, Any],
) -> None:
    from obsctl.generate.rules import output, slo_rules
    from obsctl.generate.sources.slo_policy import TierDefaults

    input_path: Path = kwargs["input_path"]
    tree = out != "-" and Path(out).is_dir()
    # Sloth generates each spec file on its own: the same SLO in two files is two outputs' business.
    specs, catalog, app = _read(
        **{**kwargs, "ignore_slo_duplicates": kwargs["ignore_slo_duplicates"] or tree}
    )
    _one_output_each(specs.slos, tree)
    opts = slo_rules.Options(
        period=kwargs["period"],
        extra_labels=_labels(extra_labels),
        disable_alerts=disable_alerts,
        disable_recordings=disable_recordings,
        page=TierDefaults(reset_window=reset_window),
        runbook_base_url=runbook_base_url,
        windows=catalog,
        plugins=app,
        disable_default_plugins=kwargs["disable_default_slo_plugins"],
    )
    if tree:
        if not input_path.is_dir():
            raise ObsctlError(
                [Problem(file=out, message="is a directory; expected a file (the input is one file)")]
            )
        written = output.write_tree(specs.slos, opts, input_path, Path(out), out_format)
        click.echo(f"wrote {len(written)} file(s) to {out}: {len(specs.slos)} SLO(s)", err=True)
        return
    content = output.render(
        specs.slos, opts, out_format, f"SLO rules from {input_path} ({len(specs.slos)} SLOs)."
    )
    if out == "-":
        sys.stdout.write(content)
        return
    write_atomically(Path(out), content)
    click.echo(f"wrote {out}: {len(specs.slos)} SLO(s)", err=True)
