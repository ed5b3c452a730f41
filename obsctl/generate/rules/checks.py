"""promtool and amtool checks of the generated files (part of `obsctl check` / `make check`).

The rules must hold on both Prometheus versions users run, so every promtool check and test runs
on each of them, and a failure names the promtool (version and path) that failed:

- Prometheus 3: the promtool of tools/versions.yaml, built by `make setup` (obsctl/tools.py);
- Prometheus 2: Debian's promtool 2.42, /usr/bin/promtool (the `prometheus` package `make setup`
  installs).

alertmanager.yml is checked by the amtool of tools/versions.yaml (Alertmanager 0.35) and, when it
is installed, by Debian's (/usr/bin/amtool, package `prometheus-alertmanager`).

Where the two Prometheus versions read the same query differently, `version_differences` names it
(docs/slos.md, "Prometheus 2.x and 3.x"): a classic-histogram `le` matcher not written the way
Prometheus 3 stores bucket bounds (`le="30"` selects nothing there: it stores `le="30.0"`), and a
regex `.`, which matches a newline on Prometheus 3 only. Functions that exist in one version only
(`holt_winters` in 2, `double_exponential_smoothing` in 3) and UTF-8 names (3 only) fail one of
the two `promtool check rules` runs.
"""

from __future__ import annotations

import math
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml

import catalog as catalog_mod
from obsctl import paths, tools
from obsctl.generate import promql
from obsctl.generate.rules import layout
from obsctl.generate.rules.alertmanager import TIERS, receiver_name

DEBIAN_PROMTOOL = Path("/usr/bin/promtool")
DEBIAN_AMTOOL = Path("/usr/bin/amtool")
DEBIAN_PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}
# A representative label set per receiver tier, for `amtool config routes test`.
SEVERITY_OF_TIER = {"page": "critical", "ticket": "warning"}
_VERSION = re.compile(r"version (\d+)\.(\d+)\.(\S+)")


class MissingTool(RuntimeError):
    """A promtool or amtool the checks need is not installed; the message says how to get it."""


@dataclass(frozen=True)
class Tool:
    """One promtool or amtool the checks run: `name`, where it comes from, and its path."""

    name: str  # promtool | amtool
    origin: str  # "tools/versions.yaml" | "Debian"
    path: Path | None  # None: not installed (see `missing`)
    version: str  # as the binary prints it (3.16.0, 2.42.0+ds); the expected one if missing
    missing: str = ""

    @property
    def id(self) -> str:
        """promtool-3.16: the name and the major.minor version (the tests' parameter ids)."""
        return f"{self.name}-{'.'.join(self.version.split('.')[:2])}"

    def __str__(self) -> str:
        return f"{self.name} {self.version} ({self.origin}, {self.path or 'not installed'})"

    def binary(self) -> str:
        """The path to run; MissingTool naming `make setup` when it is not installed."""
        if self.path is None:
            raise MissingTool(self.missing)
        return str(self.path)


def _printed_version(path: Path) -> str | None:
    try:
        proc = subprocess.run(
            [str(path), "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = _VERSION.search(proc.stdout + proc.stderr)
    return ".".join(match.groups()) if match else None


def table_tool(name: str) -> Tool:
    """The binary `name` of tools/versions.yaml (built by `make setup`)."""
    table = tools.load_table()
    tool = next(t for t in table.values() if name in t.binaries)
    try:
        path: Path | None = tools.tool_path(name, table)
        missing = ""
    except tools.ToolError as exc:
        path, missing = None, str(exc)
    return Tool(name, "tools/versions.yaml", path, tool.reports.removeprefix("v"), missing)


def debian_tool(name: str, path: Path, expected: str) -> Tool:
    """Debian's binary `name` at `path`, at the version it prints (`expected` when it is missing)."""
    version = _printed_version(path) if path.exists() else None
    if version is None:
        package = DEBIAN_PACKAGES[name]
        return Tool(
            name,
            "Debian",
            None,
            expected,
            f"Debian's {name} {expected} ({path}, package {package}) is not installed: run `make setup` "
            f"(or `apt-get install {package}`)",
        )
    return Tool(name, "Debian", path, version)


def promtools() -> list[Tool]:
    """Debian's promtool (Prometheus 2.42) and Prometheus 3's from tools/versions.yaml, in that order."""
    return [debian_tool("promtool", DEBIAN_PROMTOOL, "2.42"), table_tool("promtool")]


def amtools() -> list[Tool]:
    """The amtool of tools/versions.yaml, and Debian's when it is installed."""
    found = [table_tool("amtool")]
    debian = debian_tool("amtool", DEBIAN_AMTOOL, "0.25")
    return found + ([debian] if debian.path is not None else [])


def _run(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, check=False, cwd=cwd)


def _each(tools_: Iterable[Tool]) -> Iterable[tuple[Tool, str | None, str | None]]:
    """(tool, binary, problem): the binary to run, or the problem that it is missing."""
    for tool in tools_:
        try:
            yield tool, tool.binary(), None
        except MissingTool as exc:
            yield tool, None, str(exc)


# --- what the two Prometheus versions read differently ------------------------------------------


def prometheus3_float(value: str) -> str:
    """A bucket bound as Prometheus 3 stores it (model/labels.FormatOpenMetricsFloat): Go's shortest
    `%g` form with `.0` added to a whole number, so `30` -> `30.0`, `1e6` -> `1e+06`, `0.2` stays.
    A value that is not a number is returned as it is."""
    try:
        number = float(value)
    except ValueError:
        return value
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if number == 0:
        return "0.0"
    sign = "-" if number < 0 else ""
    digits_tuple, exponent = Decimal(repr(abs(number))).normalize().as_tuple()[1:]
    assert isinstance(exponent, int)
    digits = "".join(map(str, digits_tuple))
    point = len(digits) + exponent  # where the decimal point is, counted from the first digit
    if not -4 <= point - 1 < 6:  # Go's %g switches to an exponent here (shortest precision: 6)
        mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if point - 1 < 0 else '+'}{abs(point - 1):02d}"
    if point <= 0:
        text = "0." + "0" * -point + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits)) + ".0"
    else:
        text = f"{digits[:point]}.{digits[point:]}"
    return sign + text


def _has_dot(regex: str) -> bool:
    """Whether the regex has a `.` outside a character class and not escaped."""
    escaped = in_class = False
    for i, ch in enumerate(regex):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            # `]` right after `[` or `[^` is a literal, not the end of the class.
            if ch == "]" and regex[i - 1] != "[" and regex[i - 2 : i] != "[^":
                in_class = False
        elif ch == "[":
            in_class = True
        elif ch == ".":
            return True
    return False


def version_differences(expr: str, where: str | None = None) -> list[str]:
    """What in the query Prometheus 2.x and 3.x read differently (empty: the same on both)."""
    found = []
    for sel in promql.selectors(expr, where):
        for label, op, value in sel.matchers:
            if label == "le" and op in ("=", "!=") and prometheus3_float(value) != value:
                stored = prometheus3_float(value)
                found.append(
                    f'{sel.name}{{le{op}"{value}"}}: Prometheus 3 stores this bucket bound as '
                    f'le="{stored}" (and prometheus_client exposes it so), so le{op}"{value}" '
                    f"{'selects nothing' if op == '=' else 'excludes nothing'} there; "
                    f'write le{op}"{stored}"'
                )
            if op in ("=~", "!~") and _has_dot(value):
                found.append(
                    f'{sel.name}{{{label}{op}"{value}"}}: `.` matches a newline on Prometheus 3 and '
                    "not on 2.x; write the characters meant (a character class: 5[0-9][0-9] for a "
                    "5xx status)"
                )
    return found


def _rules(files: Iterable[Path]) -> Iterable[tuple[Path, str, str]]:
    for f in files:
        for group in (yaml.safe_load(f.read_text()) or {}).get("groups") or []:
            for rule in group.get("rules") or []:
                yield f, str(rule.get("alert") or rule.get("record")), str(rule.get("expr", ""))


def check_versions(root: Path | None = None) -> list[str]:
    """Every query of the generated rules reads the same on Prometheus 2.x and 3.x."""
    problems = []
    for f, name, expr in _rules(layout.rule_files(root)):
        where = f"{f.relative_to(root or paths.REPO)}: {name}"
        problems += [f"{where}: {p}" for p in version_differences(expr, where)]
    return problems


# --- promtool -----------------------------------------------------------------------------------


def test_files(root: Path | None = None) -> list[Path]:
    return layout.slo_test_files(root) + layout.promtool_test_files(root)


def check_rules(root: Path | None = None, promtool: Iterable[Tool] | None = None) -> list[str]:
    """`promtool check rules --lint=all --lint-fatal` of every generated rule file, on each promtool."""
    files = layout.rule_files(root)
    if not files:
        return [f"no rule files under {layout.RULES_DIR}"]
    problems = []
    for tool, binary, missing in _each(promtool if promtool is not None else promtools()):
        if binary is None:
            problems.append(f"{tool}: {missing}")
            continue
        r = _run([binary, "check", "rules", "--lint=all", "--lint-fatal", *map(str, files)])
        if r.returncode != 0:
            problems.append(f"{tool}: check rules failed: {r.stdout}{r.stderr}".strip())
    return problems


def test_rules(files: list[Path] | None = None, promtool: Iterable[Tool] | None = None) -> list[str]:
    """`promtool test rules` of the given test files (default: all of them), on each promtool."""
    files = files if files is not None else test_files()
    if not files:
        return ["no promtool test files"]
    problems = []
    for tool, binary, missing in _each(promtool if promtool is not None else promtools()):
        if binary is None:
            problems.append(f"{tool}: {missing}")
            continue
        r = _run([binary, "test", "rules", *map(str, files)])
        if r.returncode != 0:
            problems.append(f"{tool}: test rules failed: {r.stdout}{r.stderr}".strip())
    return problems


# --- amtool -------------------------------------------------------------------------------------


def check_alertmanager(path: Path | None = None, amtool: Iterable[Tool] | None = None) -> list[str]:
    """`amtool check-config` and one `amtool config routes test` per team and tier, on each amtool."""
    path = path or paths.REPO / layout.ALERTMANAGER
    problems = []
    for tool, binary, missing in _each(amtool if amtool is not None else amtools()):
        if binary is None:
            problems.append(f"{tool}: {missing}")
            continue
        r = _run([binary, "check-config", str(path)])
        if r.returncode != 0:
            problems.append(f"{tool}: check-config failed: {r.stdout}{r.stderr}".strip())
            continue
        for team in sorted(catalog_mod.default().teams):
            for tier, _ in TIERS:
                expected = receiver_name(team, tier)
                labels = [f"team={team}", f"severity={SEVERITY_OF_TIER[tier]}", "alertname=Probe"]
                r = _run(
                    [
                        binary,
                        "config",
                        "routes",
                        "test",
                        f"--config.file={path}",
                        f"--verify.receivers={expected}",
                        *labels,
                    ]
                )
                if r.returncode != 0:
                    problems.append(
                        f"{tool}: routes test {' '.join(labels)}: expected {expected}: {r.stdout.strip()}"
                    )
    return problems


def check_all() -> list[str]:
    # The generated per-SLO tests replay days of series (minutes for all SLOs on both promtools):
    # they run in `make test` (tests/rules), not in the fast `make check`.
    return check_versions() + check_rules() + check_alertmanager() + test_rules(layout.promtool_test_files())
