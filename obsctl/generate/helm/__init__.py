"""The `helm` area: the chart's examples rendered with the real Helm library into
helm/examples/<name>/rendered/, from the rules, dashboards and collector files of the same run, and
`helm lint` of every example."""

from __future__ import annotations

from obsctl.errors import ObsctlError
from obsctl.generate.area import Area
from obsctl.generate.helm import chart, examples


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


AREA = Area(
    name="helm",
    description="the chart's examples rendered into helm/examples/*/rendered",
    generate=examples.all_rendered_files,
    checks=(("helm lint", lint_problems),),
    # A template removed from the chart leaves a stale rendered file: --check reports it.
    owned_dirs=tuple(f"helm/examples/{name}/rendered" for name in chart.example_names()),
    needs=("rules", "dashboards", "collector"),
)
