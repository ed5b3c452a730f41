"""Sloth v0.16.0's own suite, read from its Go module source (GOMODCACHE, `obsctl.tools.modsrc`):
the example specs with the rules Sloth generated from them (examples/_gen), and the integration
inputs with their expected outputs (test/integration/prometheus/testdata, Go templates over
`{{ .version }}`). The cases mirror Sloth's own tests: scripts/examplesgen.sh for the examples,
test/integration/prometheus/generate_test.go and validate_test.go for the rest.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from obsctl import tools
from obsctl.generate.rules import checks


@lru_cache(maxsize=1)
def module() -> Path:
    try:
        return tools.modsrc("sloth")
    except tools.ToolError as exc:
        pytest.fail(f"Sloth's module source is not available: {exc}")


def sloth_binary() -> Path:
    """The Sloth binary (a tests-stage tool: a test that runs it is marked built_tools("sloth"))."""
    try:
        return tools.tool_path("sloth")
    except tools.ToolError as exc:
        pytest.fail(f"the Sloth binary is not built: {exc}")


def examples() -> Path:
    return module() / "examples"


def testdata() -> Path:
    return module() / "test" / "integration" / "prometheus" / "testdata"


def integration_windows() -> Path:
    return module() / "test" / "integration" / "prometheus" / "windows"


@dataclass(frozen=True)
class Case:
    """One Sloth generation: its input, the arguments, what Sloth generates (None: Sloth or obsctl
    refuses it), and why obsctl refuses it when it does."""

    name: str
    input: Path
    args: tuple[str, ...] = ()
    expected: Path | None = None
    refused: str | None = None  # a text the refusal names (the plugin)

    @property
    def kubernetes(self) -> bool:
        return "kind: PrometheusServiceLevel" in self.input.read_text()


# Examples that use an SLI plugin written in Go (examples/plugins/): refused, naming it.
_SLI_PLUGIN_EXAMPLES = {"plugin-getting-started.yml", "plugin-k8s-getting-started.yml"}


def example_cases() -> list[Case]:
    """Every example spec, generated as scripts/examplesgen.sh does (`--extra-labels cmd=examplesgen.sh`)."""
    root = examples()
    out = []
    for spec in sorted(p for p in root.iterdir() if p.suffix in (".yml", ".yaml")):
        refused = "getting_started_availability" if spec.name in _SLI_PLUGIN_EXAMPLES else None
        out.append(
            Case(
                f"examples/{spec.name}",
                spec,
                ("-l", "cmd=examplesgen.sh"),
                None if refused else root / "_gen" / spec.name,
                refused,
            )
        )
    return out


def integration_cases() -> list[Case]:
    """The cases of Sloth's generate_test.go."""
    d = testdata()
    win = str(integration_windows())
    cases = [
        ("base", "in-base.yaml", (), "out-base.yaml.tpl"),
        ("base-k8s", "in-base-k8s.yaml", (), "out-base-k8s.yaml.tpl"),
        ("no-alerts", "in-base.yaml", ("--disable-alerts",), "out-base-no-alerts.yaml.tpl"),
        ("no-recordings", "in-base.yaml", ("--disable-recordings",), "out-base-no-recordings.yaml.tpl"),
        (
            "extra-labels",
            "in-base.yaml",
            ("-l", "exk1=exv1", "-l", "exk2=exv2"),
            "out-base-extra-labels.yaml.tpl",
        ),
        ("multifile", "in-multifile.yaml", (), "out-multifile.yaml.tpl"),
        ("multifile-k8s", "in-multifile-k8s.yaml", (), "out-multifile-k8s.yaml.tpl"),
        ("openslo", "in-openslo.yaml", (), "out-openslo.yaml.tpl"),
        ("28d", "in-base.yaml", ("--default-slo-period", "28d"), "out-base-28d.yaml.tpl"),
        (
            "custom-windows-7d",
            "in-base.yaml",
            ("--default-slo-period", "7d", "--slo-period-windows-path", win),
            "out-base-custom-windows-7d.yaml.tpl",
        ),
    ]
    out = [Case(f"integration/{n}", d / i, a, d / e) for n, i, a, e in cases]
    out += [
        Case("integration/sli-plugin", d / "in-sli-plugin.yaml", refused="integration_test"),
        Case("integration/slo-plugin", d / "in-slo-plugin.yaml", refused="integration-tests/plugin1"),
        Case("integration/slo-plugin-k8s", d / "in-slo-plugin-k8s.yaml", refused="integration-tests/plugin1"),
        Case("integration/invalid-version", d / "in-invalid-version.yaml", refused="prometheus/v999"),
    ]
    return out


def validate_good() -> list[Path]:
    return sorted((testdata() / "validate" / "good").glob("*.yaml"))


def validate_bad() -> dict[Path, str]:
    """The bad specs of validate_test.go whose fault is stated ("# BAD!"), with what obsctl names."""
    d = testdata() / "validate" / "bad"
    return {
        d / "bad-aa.yaml": "objective: got 101",
        d / "bad-ab.yaml": "objective: got 101",
        d / "bad-ba.yaml": "objective: got 101",
        d / "bad-k8s.yaml": "spec.service",
        d / "bad-multi-k8s.yaml": "alerting.name: missing",
        d / "bad-multi.yaml": "sli: got neither",
    }


def expected(case: Case, version: str = "v0.16.0") -> list[dict[str, Any]]:
    """What Sloth generates for `case`: its examples/_gen file, or the integration template rendered
    with `version`."""
    assert case.expected is not None
    text = case.expected.read_text()
    if case.expected.suffix == ".tpl":
        text = render_template(text, version)
    return [d for d in yaml.safe_load_all(text) if d]


_ACTION = re.compile(r'\{\{\s*(\.version|"(?:[^"\\]|\\.)*")\s*\}\}')


def render_template(text: str, version: str) -> str:
    """A Go text/template of Sloth's testdata: `{{ .version }}` and string literals `{{"..."}}`
    (how the templates write Prometheus' own `{{$labels.x}}`); any other action is an error."""

    def action(m: re.Match[str]) -> str:
        inner = m.group(1)
        if inner == ".version":
            return version
        return str(json.loads(inner))

    parts = _ACTION.split(text)
    for i in range(0, len(parts), 2):
        if "{{" in parts[i]:
            raise ValueError(f"unexpected template action in {parts[i][parts[i].index('{{') :][:40]!r}")
    return _ACTION.sub(action, text)


def run_obsctl(*args: str) -> tuple[int, str, str]:
    """`obsctl slo ...` in this process: (exit code, stdout, stderr with the problems)."""
    from obsctl.cli import cli
    from obsctl.errors import ObsctlError

    result = CliRunner().invoke(cli, ["slo", *args], catch_exceptions=True)
    if isinstance(result.exception, ObsctlError):
        return 2, result.stdout, result.stderr + str(result.exception)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def ours(case: Case, *extra: str) -> tuple[int, str, str]:
    fmt = ("--out-format", "prometheus-rule") if case.kubernetes else ()
    return run_obsctl("generate", "-i", str(case.input), *case.args, *fmt, *extra)


def run_sloth(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(sloth_binary()), *args], capture_output=True, text=True, check=False, cwd=cwd)


def promtools() -> list[checks.Tool]:
    """Both promtools the rules must pass (obsctl.generate.rules.checks): Prometheus 2.42's and 3's."""
    found = checks.promtools()
    for tool in found:
        try:
            tool.binary()
        except checks.MissingTool as exc:
            pytest.fail(str(exc))
    return found


def rule_groups(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rule groups of a rules file or of PrometheusRule objects."""
    out = []
    for d in docs:
        out.extend(d["spec"]["groups"] if d.get("kind") == "PrometheusRule" else d.get("groups") or [])
    return out


@dataclass
class Index:
    records: dict[tuple[str, str], dict[str, str]]
    alerts: dict[tuple[str, str, str], tuple[dict[str, str], dict[str, str]]]


def index(docs: list[dict[str, Any]]) -> Index:
    """Records by (group, name) with their labels; alerts by (group, name, sloth_severity) with their
    labels and annotations."""
    records, alerts = {}, {}
    for g in rule_groups(docs):
        for r in g["rules"]:
            labels = {k: str(v) for k, v in (r.get("labels") or {}).items()}
            if "record" in r:
                records[(g["name"], r["record"])] = labels
            else:
                key = (g["name"], r["alert"], labels.get("sloth_severity", ""))
                alerts[key] = (labels, {k: str(v) for k, v in (r.get("annotations") or {}).items()})
    return Index(records, alerts)
