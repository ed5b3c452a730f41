"""Registers the `helm` area (rendered examples) and the `helm lint` check of `obsctl check`."""

from __future__ import annotations

from obsctl import artifacts
from obsctl.commands.generate import CHECKS
from obsctl.errors import ObsctlError
from obsctl.helm import chart, examples


def lint_problems() -> list[str]:
    """Helm lint errors of every example (warnings and infos are not failures)."""
    problems: list[str] = []
    for name in chart.example_names():
        try:
            messages = chart.lint(chart.example_values(name))
        except ObsctlError as exc:
            problems.append(f"helm/examples/{name}: {exc}")
            continue
        for msg in messages:
            if msg.get("severity", 0) >= chart.LINT_ERROR:
                problems.append(f"helm/examples/{name}: {msg.get('path')}: {msg.get('error')}")
    return problems


artifacts.register(
    artifacts.Area(
        name="helm",
        generate=examples.all_rendered_files,
        # A template removed from the chart leaves a stale rendered file: --check reports it.
        owned_dirs=tuple(f"helm/examples/{name}/rendered" for name in chart.example_names()),
    )
)
CHECKS.append(("helm lint", lint_problems))
