"""The collector check of `obsctl check`: our collector distribution (the `otelcol` tool, built by
`make setup`) validates every generated config, and the pipeline rules it cannot check hold.

`otelcol validate --config FILE` loads the config as the collector does at start-up (the
`${env:...}` placeholders expanded, every component's keys and values decoded and validated, OTTL
statements parsed, pipelines and connectors checked) without starting anything. It runs in a clean
environment with only the variables an environment's deployment sets (`VALIDATE_ENV`), so a
variable of the caller's shell cannot change the verdict. The binary must print the pinned release
(tools/versions.yaml), or the check fails before validating anything.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import yaml

from obsctl import paths, tools
from obsctl.generate.collector import pipeline_rules, render, source

# Variables an environment's deployment always sets (the chart: MY_POD_IP from status.podIP); every
# other placeholder takes its default.
VALIDATE_ENV: dict[str, dict[str, str]] = {"local": {}, "kubernetes": {"MY_POD_IP": "10.0.0.10"}}
TIMEOUT_S = 120


class CollectorUnavailable(Exception):
    """The collector binary is not built, or prints another release than the pinned one."""


def collector_binary(release: str | None = None) -> Path:
    """The built collector, checked to print `release` (default: the pinned one)."""
    wanted = release or source.release()
    try:
        table = tools.load_table()
        binary = tools.tool_path(source.COLLECTOR_TOOL, table)
    except tools.ToolError as exc:
        raise CollectorUnavailable(str(exc)) from exc
    found = tools.read_version(table[source.COLLECTOR_TOOL], binary)
    if found is None or found.lstrip("v") != wanted.lstrip("v"):
        raise CollectorUnavailable(
            f"{binary} is collector release {found or '(unreadable)'}, not {wanted}, the one pinned in "
            f"tools/versions.yaml ({source.COLLECTOR_TOOL}) that the configs are written for: "
            "run `make setup`"
        )
    return binary


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """PATH and `extra` only."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(extra or {})}


def run_validate(binary: Path, config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), "validate", f"--config={config}"],
        capture_output=True,
        text=True,
        env=clean_env(env),
        timeout=TIMEOUT_S,
        stdin=subprocess.DEVNULL,
        check=False,
    )


_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT")  # the collector's own log lines, not the error


def validate_errors(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """What `otelcol validate` refused, one entry per `Error:` (its continuation lines joined);
    empty when it passed."""
    if proc.returncode == 0:
        return []
    errors: list[list[str]] = []
    for line in (proc.stderr + "\n" + proc.stdout).splitlines():
        if line.startswith("Error: "):
            errors.append([line.removeprefix("Error: ").strip()])
        elif errors and line.strip() and not _LOG_LINE.match(line):
            errors[-1].append(line.strip())
    if not errors:
        tail = [line for line in proc.stderr.splitlines() if line.strip()][-5:]
        return tail or [f"exit status {proc.returncode}"]
    return [" ".join(parts) for parts in errors]


def _relative(path: Path) -> Path:
    return path.relative_to(paths.REPO) if path.is_relative_to(paths.REPO) else path


def check_file(path: Path, environment: str, binary: Path) -> list[str]:
    """Every problem of one generated config: what the collector refuses, then our rules."""
    rel = _relative(path)
    try:
        proc = run_validate(binary, path, VALIDATE_ENV.get(environment, {}))
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [f"{rel}: otelcol validate did not run: {exc}"]
    problems = [f"{rel}: otelcol validate: {error}" for error in validate_errors(proc)]
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return [*problems, f"{rel}: cannot read: {exc}"]
    if not isinstance(config, dict):
        return [*problems, f"{rel}: not a mapping"]
    rules = pipeline_rules.check_pipelines(config, kubernetes=environment == "kubernetes")
    return problems + [f"{rel}: {p}" for p in rules]


def check_generated() -> list[str]:
    """The `obsctl check` entry: every committed collector config of every environment."""
    try:
        binary = collector_binary()
    except CollectorUnavailable as exc:
        return [f"collector: {exc}"]
    problems = []
    for name in render.ENVIRONMENTS:
        path = paths.COLLECTOR / f"{name}.yaml"
        if not path.exists():
            problems.append(f"{_relative(path)}: missing; run `make collector`")
            continue
        problems += check_file(path, name, binary)
    return problems
