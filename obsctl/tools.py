"""The ecosystem's Go tools, built from Go modules at the versions pinned in tools/versions.yaml.

    python -m obsctl.tools build [-v] [--stage setup|tests|all] [NAME...]
                                                  build what is missing (make setup runs this:
                                                  the setup stage; the tests build their own)
    python -m obsctl.tools list                   name, version, state (built / on PATH / missing), path
    python -m obsctl.tools path NAME              path of a binary (tool or binary name); exit 1 if not built
    python -m obsctl.tools modsrc NAME            the tool module's source directory in GOMODCACHE

From code: ``tool_path("promtool")`` -> Path (raises ToolMissing naming the tool and `make setup`),
``load_table()`` -> {name: Tool}.

Tools are built into a versioned cache outside the checkout,
``${OBSCTL_TOOLS_CACHE:-${XDG_CACHE_HOME:-~/.cache}/payment-observability/tools}/<name>-<version>/bin/``,
with ``GOBIN=<dir> go install <pkg>@<version>``; the collector with the collector builder and
tools/otelcol-builder.yaml. A build goes into a temporary directory of the cache and is renamed
into place only when every binary is there and prints the pinned version, so an interrupted build
never counts as built. Module downloads stay in the normal Go module cache.

Standard library and PyYAML only: scripts/setup.sh runs it with the venv's python.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

REPO = Path(__file__).resolve().parents[1]
TABLE = REPO / "tools" / "versions.yaml"
GO_MIN = (1, 26)
GO_INSTALL_HINT = "install Go >= 1.26 (https://go.dev/doc/install) and re-run make setup"
BUILD_METHODS = ("go-install", "module", "source", "otelcol-builder")
STAMP = "build.json"
REQUIRED_FIELDS = ("module", "packages", "version", "binaries", "used_by", "version_check")
# setup: `make setup` builds it (what the stack, the demo and most tests run); tests: only some
# tests need it, and the test session builds it in the background while the others run
# (tests/conftest.py), so a cold cache does not wait for it before the first test.
STAGES = ("setup", "tests")


class ToolError(RuntimeError):
    """A tool could not be found, built or read."""


class ToolMissing(ToolError):
    """The tool is neither built in the cache nor on PATH at the pinned version."""


@dataclass(frozen=True)
class Tool:
    name: str
    module: str
    packages: tuple[str, ...]
    version: str
    reports: str
    binaries: tuple[str, ...]
    used_by: str
    version_command: tuple[str, ...]
    version_regex: str
    build: str = "go-install"
    ldflags: str = ""
    tags: str = ""
    cgo: bool = False
    on_path: bool = True
    manifest: Path | None = None
    placeholders: tuple[str, ...] = ()
    stable_version: str = ""
    contrib_stable_version: str = ""
    local_replace_version: str = ""
    rename: tuple[tuple[str, str], ...] = ()
    stage: str = "setup"

    def expand(self, text: str) -> str:
        return text.replace("{version}", self.version).replace("{reports}", self.reports)

    def inputs(self) -> dict[str, Any]:
        """Everything that decides what a build produces: a change means a rebuild."""
        inputs: dict[str, Any] = {
            "module": self.module,
            "packages": list(self.packages),
            "version": self.version,
            "reports": self.reports,
            "build": self.build,
            "ldflags": self.expand(self.ldflags),
            "tags": self.tags,
            "cgo": self.cgo,
            "binaries": list(self.binaries),
        }
        if self.placeholders:
            inputs["placeholders"] = list(self.placeholders)
        if self.local_replace_version:
            inputs["local_replace_version"] = self.expand(self.local_replace_version)
        if self.rename:
            inputs["rename"] = dict(self.rename)
        if self.manifest is not None:
            digest = hashlib.sha256(self.manifest.read_bytes())
            for directory in local_replaces(self.manifest).values():
                for file in sorted(p for p in directory.rglob("*") if p.is_file()):
                    digest.update(str(file.relative_to(directory)).encode() + b"\0" + file.read_bytes())
            inputs["manifest_sha256"] = digest.hexdigest()
        return inputs

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.inputs(), sort_keys=True).encode()).hexdigest()


def _parse_tool(name: str, raw: Any, table_path: Path) -> Tool:
    if not isinstance(raw, dict):
        raise ToolError(f"{table_path}: tool {name!r} is not a mapping")
    missing = [field for field in REQUIRED_FIELDS if not raw.get(field)]
    if missing:
        raise ToolError(f"{table_path}: tool {name!r} lacks {', '.join(missing)}")
    check = raw["version_check"]
    if not isinstance(check, dict) or not check.get("command") or not check.get("regex"):
        raise ToolError(f"{table_path}: tool {name!r}: version_check needs command and regex")
    command = check["command"]
    if isinstance(command, str):
        command = command.split()
    regex = str(check["regex"])
    if re.compile(regex).groups < 1:
        raise ToolError(f"{table_path}: tool {name!r}: version_check regex needs a group")
    build = str(raw.get("build", "go-install"))
    if build not in BUILD_METHODS:
        raise ToolError(f"{table_path}: tool {name!r}: build {build!r} is not one of {BUILD_METHODS}")
    manifest: Path | None = None
    if build == "otelcol-builder":
        if not raw.get("manifest"):
            raise ToolError(f"{table_path}: tool {name!r}: otelcol-builder needs manifest")
        manifest = (REPO / str(raw["manifest"])).resolve()  # relative to the repository
    packages = raw["packages"]
    binaries = raw["binaries"]
    if isinstance(packages, str):
        packages = [packages]
    if isinstance(binaries, str):
        binaries = [binaries]
    version = str(raw["version"])
    local_replace_version = str(raw.get("local_replace_version") or "")
    if local_replace_version and build != "module":
        raise ToolError(
            f"{table_path}: tool {name!r}: local_replace_version is for build: module, not {build!r}"
        )
    stage = str(raw.get("stage", "setup"))
    if stage not in STAGES:
        raise ToolError(f"{table_path}: tool {name!r}: stage {stage!r} is not one of {STAGES}")
    rename = raw.get("rename") or {}
    if not isinstance(rename, dict):
        raise ToolError(f"{table_path}: tool {name!r}: rename must map an installed name to a binary name")
    for target in rename.values():
        if str(target) not in (str(b) for b in binaries):
            raise ToolError(
                f"{table_path}: tool {name!r}: rename target {target!r} "
                f"is not one of its binaries {list(binaries)}"
            )
    return Tool(
        name=name,
        module=str(raw["module"]),
        packages=tuple(str(p) for p in packages),
        version=version,
        reports=str(raw.get("reports", version)),
        binaries=tuple(str(b) for b in binaries),
        used_by=str(raw["used_by"]),
        version_command=tuple(str(c) for c in command),
        version_regex=regex,
        build=build,
        ldflags=str(raw.get("ldflags", "")),
        tags=str(raw.get("tags", "")),
        cgo=bool(raw.get("cgo", False)),
        on_path=bool(raw.get("on_path", True)),
        manifest=manifest,
        placeholders=tuple(str(p) for p in raw.get("placeholders") or ()),
        stable_version=str(raw.get("stable_version", "")),
        contrib_stable_version=str(raw.get("contrib_stable_version", "")),
        local_replace_version=local_replace_version,
        rename=tuple((str(k), str(v)) for k, v in rename.items()),
        stage=stage,
    )


def load_table(path: Path | None = None) -> dict[str, Tool]:
    """The pinned table, tools/versions.yaml (or OBSCTL_TOOLS_TABLE), as {name: Tool}."""
    table_path = Path(path or os.environ.get("OBSCTL_TOOLS_TABLE") or TABLE)
    data = yaml.safe_load(table_path.read_text())
    if not isinstance(data, dict) or not isinstance(data.get("tools"), dict):
        raise ToolError(f"{table_path}: expected a mapping with `tools:`")
    return {str(name): _parse_tool(str(name), raw, table_path) for name, raw in data["tools"].items()}


def cache_root() -> Path:
    if os.environ.get("OBSCTL_TOOLS_CACHE"):
        return Path(os.environ["OBSCTL_TOOLS_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "payment-observability" / "tools"


def tool_dir(tool: Tool) -> Path:
    return cache_root() / f"{tool.name}-{tool.version}"


def _on_path_record(tool: Tool) -> Path:
    return cache_root() / f"{tool.name}-{tool.version}.on-path.json"


def _norm(version: str) -> str:
    return version[1:] if version.startswith("v") else version


def read_version(tool: Tool, binary: Path) -> str | None:
    """The version `binary` prints, read with the tool's version_check; None if unreadable."""
    command = [str(binary) if part == "{bin}" else part for part in tool.version_command]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(tool.version_regex, proc.stdout + "\n" + proc.stderr)
    return match.group(1) if match else None


def _version_matches(tool: Tool, binary: Path) -> tuple[bool, str | None]:
    found = read_version(tool, binary)
    return (found is not None and _norm(found) == _norm(tool.reports)), found


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def _built(tool: Tool) -> Path | None:
    """The bin/ directory of a complete build of exactly this table entry, else None."""
    directory = tool_dir(tool)
    try:
        stamp = json.loads((directory / STAMP).read_text())
    except (OSError, ValueError):
        return None
    if stamp.get("digest") != tool.digest():
        return None
    bindir = directory / "bin"
    if all(_is_executable(bindir / b) for b in tool.binaries):
        return bindir
    return None


def _path_without_cache() -> list[str]:
    root = str(cache_root())
    return [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and not d.startswith(root)]


def _find_on_path(tool: Tool) -> dict[str, Path] | None:
    """Every binary of the tool on PATH, each printing the pinned version; None otherwise."""
    if not tool.on_path:
        return None
    search = os.pathsep.join(_path_without_cache())
    found: dict[str, Path] = {}
    for binary in tool.binaries:
        where = shutil.which(binary, path=search)
        if where is None:
            return None
        ok, _ = _version_matches(tool, Path(where))
        if not ok:
            return None
        found[binary] = Path(where)
    return found


def _recorded_on_path(tool: Tool) -> dict[str, Path] | None:
    try:
        record = json.loads(_on_path_record(tool).read_text())
    except (OSError, ValueError):
        return None
    if not tool.on_path or record.get("digest") != tool.digest():
        return None
    paths = {b: Path(p) for b, p in record.get("binaries", {}).items()}
    if set(paths) != set(tool.binaries) or not all(_is_executable(p) for p in paths.values()):
        return None
    if record.get("files") != {b: _file_id(p) for b, p in paths.items()}:
        return None  # replaced or upgraded since: check its version again
    return paths


def _file_id(path: Path) -> list[float]:
    st = path.stat()
    return [st.st_size, st.st_mtime]


def _record_on_path(tool: Tool, paths: dict[str, Path]) -> None:
    record = {
        "name": tool.name,
        "version": tool.version,
        "digest": tool.digest(),
        "binaries": {b: str(p) for b, p in paths.items()},
        "files": {b: _file_id(p) for b, p in paths.items()},
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    target = _on_path_record(tool)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, target)


def _resolve(tool: Tool, check_path: bool = True) -> tuple[str, dict[str, Path]]:
    """('built' | 'on PATH' | 'missing', {binary: path})."""
    bindir = _built(tool)
    if bindir is not None:
        return "built", {b: bindir / b for b in tool.binaries}
    recorded = _recorded_on_path(tool)
    if recorded is not None:
        return "on PATH", recorded
    if check_path:
        found = _find_on_path(tool)
        if found is not None:
            return "on PATH", found
    return "missing", {}


def _lookup(name: str, table: dict[str, Tool]) -> tuple[Tool, str]:
    if name in table:
        return table[name], table[name].binaries[0]
    for tool in table.values():
        if name in tool.binaries:
            return tool, name
    known = sorted(set(table) | {b for t in table.values() for b in t.binaries})
    raise ToolError(f"unknown tool {name!r}: tools/versions.yaml has {', '.join(known)}")


def tool_path(name: str, table: dict[str, Tool] | None = None) -> Path:
    """Path of a tool's main binary, or of one binary by its name (``tool_path("promtool")``)."""
    table = table if table is not None else load_table()
    tool, binary = _lookup(name, table)
    state, paths = _resolve(tool)
    if state == "missing":
        how = "run `make setup`" if tool.stage == "setup" else "the tests that use it build it"
        raise ToolMissing(
            f"{tool.name} {tool.version} ({binary}) is not built: {how} "
            f"(or `python -m obsctl.tools build {tool.name}`); cache: {tool_dir(tool)}"
        )
    return paths[binary]


# --- Go ---------------------------------------------------------------------------------------


def go_binary() -> str | None:
    return shutil.which("go")


def go_version(go: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.match(r"go(\d+)\.(\d+)(?:\.(\d+))?", out.strip())
    return tuple(int(g) for g in match.groups() if g is not None) if match else None


def _go_env(tool: Tool, gobin: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["CGO_ENABLED"] = "1" if tool.cgo else "0"
    if gobin is not None:
        env["GOBIN"] = str(gobin)
    return env


def _run(
    cmd: Sequence[str], log: TextIO, verbose: bool, cwd: Path | None = None, env: dict[str, str] | None = None
) -> None:
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    proc = subprocess.Popen(
        list(cmd),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        log.write(line)
        if verbose:
            sys.stdout.write("    " + line)
    if proc.wait() != 0:
        log.flush()
        raise ToolError(f"`{' '.join(cmd)}` exited {proc.returncode}")


def _build_flags(tool: Tool) -> list[str]:
    flags = ["-trimpath"]
    if tool.tags:
        flags.append(f"-tags={tool.tags}")
    if tool.ldflags:
        flags.append(f"-ldflags={tool.expand(tool.ldflags)}")
    return flags


def module_download(go: str, module: str, version: str) -> dict[str, Any]:
    """`go mod download -json module@version` (into GOMODCACHE): Dir, GoMod, Zip, ..."""
    proc = subprocess.run(
        [go, "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=tempfile.gettempdir(),
    )
    try:
        info: dict[str, Any] = json.loads(proc.stdout)
    except ValueError:
        info = {}
    if proc.returncode != 0 or info.get("Error") or not info.get("Dir"):
        raise ToolError(f"go mod download {module}@{version}: {info.get('Error') or proc.stderr.strip()}")
    return info


def _install_go_install(tool: Tool, go: str, work: Path, bindir: Path, log: TextIO, verbose: bool) -> None:
    cmd = [go, "install", *_build_flags(tool), *(f"{p}@{tool.version}" for p in tool.packages)]
    _run(cmd, log, verbose, cwd=work, env=_go_env(tool, bindir))


def _install_module(tool: Tool, go: str, work: Path, bindir: Path, log: TextIO, verbose: bool) -> None:
    """A throw-away main module that requires the tool's module with the same replace directives.

    A replace with a local directory (Kubernetes' ./staging/src/k8s.io/*, etcd's ../api) cannot be
    repeated outside the module's repository; with `local_replace_version: VERSION` the main module
    replaces each such module with its published release at VERSION instead, as projects that
    embed Kubernetes pin every k8s.io/* staging module to the v0.X matching v1.X.
    """
    info = module_download(go, tool.module, tool.version)
    edit = subprocess.run(
        [go, "mod", "edit", "-json", info["GoMod"]], capture_output=True, text=True, check=True, cwd=work
    )
    replaces = json.loads(edit.stdout).get("Replace") or []
    moddir = work / "module"
    moddir.mkdir()
    env = _go_env(tool, bindir)
    _run([go, "mod", "init", f"payment-observability.invalid/tools/{tool.name}"], log, verbose, moddir, env)
    for rep in replaces:
        old, new = rep["Old"], rep["New"]
        if not new.get("Version"):
            if not tool.local_replace_version:
                raise ToolError(
                    f"{tool.module}@{tool.version} replaces {old['Path']} with a local directory "
                    f"({new['Path']}): set `local_replace_version: VERSION` for {tool.name} "
                    "in tools/versions.yaml"
                )
            new = {"Path": old["Path"], "Version": tool.expand(tool.local_replace_version)}
        left = old["Path"] + (f"@{old['Version']}" if old.get("Version") else "")
        _run(
            [go, "mod", "edit", f"-replace={left}={new['Path']}@{new['Version']}"], log, verbose, moddir, env
        )
    for pkg in tool.packages:
        _run([go, "get", "-tool", f"{pkg}@{tool.version}"], log, verbose, moddir, env)
    _run([go, "install", *_build_flags(tool), *tool.packages], log, verbose, moddir, env)


PLACEHOLDER_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{name} {version}</title></head>
<body><p>{name} {version} built by obsctl.tools from its Go module: the web UI is not part of the
module, so this build serves the API only.</p></body></html>
"""


def _install_source(tool: Tool, go: str, work: Path, bindir: Path, log: TextIO, verbose: bool) -> None:
    """go install inside a copy of the module's source, after writing the placeholder files."""
    info = module_download(go, tool.module, tool.version)
    src = work / "src"
    log.write(f"# copying {info['Dir']} to {src}\n")
    shutil.copytree(info["Dir"], src, copy_function=shutil.copyfile)
    for directory, _, _ in os.walk(src):
        os.chmod(directory, 0o755)  # nosec B103 # a build copy of public module source, read-only for others
    page = PLACEHOLDER_PAGE.format(name=tool.name, version=tool.version).encode()
    for relative in tool.placeholders:
        target = src / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.compress(page, mtime=0) if relative.endswith(".gz") else page)
        log.write(f"# placeholder {relative}\n")
    try:
        _run([go, "install", *_build_flags(tool), *tool.packages], log, verbose, src, _go_env(tool, bindir))
    finally:
        shutil.rmtree(src, ignore_errors=True)  # a copy of the module cache: not worth keeping


def _builder_tool(tool: Tool) -> Tool:
    return Tool(
        name=f"{tool.name}-builder",
        module=tool.module,
        packages=tool.packages,
        version=tool.version,
        reports=tool.version,
        binaries=("builder",),
        used_by=f"builds {tool.name}",
        version_command=("{bin}", "version"),
        version_regex=r"version (\S+)",
        cgo=False,
        on_path=False,
    )


MANIFEST_KINDS = (
    "receivers",
    "processors",
    "exporters",
    "connectors",
    "extensions",
    "providers",
    "converters",
)
COLLECTOR_PREFIXES = (
    "go.opentelemetry.io/collector",
    "github.com/open-telemetry/opentelemetry-collector-contrib",
)


def check_manifest(tool: Tool) -> dict[str, Any]:
    """The builder manifest, refusing any module line at another release than the table's."""
    assert tool.manifest is not None
    manifest = yaml.safe_load(tool.manifest.read_text())
    allowed = {tool.version} | {v for v in (tool.stable_version, tool.contrib_stable_version) if v}
    for kind in (
        "receivers",
        "processors",
        "exporters",
        "connectors",
        "extensions",
        "providers",
        "converters",
    ):
        for entry in manifest.get(kind) or []:
            module, _, version = str(entry.get("gomod", "")).partition(" ")
            if version not in allowed:
                raise ToolError(
                    f"{tool.manifest}: {kind} {module} is at {version or '?'}, "
                    f"not at the release in tools/versions.yaml ({', '.join(sorted(allowed))})"
                )
    return dict(manifest)


def local_replaces(manifest_path: Path) -> dict[str, Path]:
    """The manifest's `replaces:` that point at a directory: {module: absolute directory}."""
    manifest = yaml.safe_load(manifest_path.read_text()) or {}
    local: dict[str, Path] = {}
    for line in manifest.get("replaces") or []:
        old, _, new = (part.strip() for part in str(line).partition("=>"))
        if new.startswith(("./", "../")):
            local[old.split()[0]] = (manifest_path.parent / new).resolve()
    return local


def _check_release(tool: Tool, manifest: dict[str, Any], gomod: dict[str, Any]) -> None:
    """Strict versioning: the manifest's modules as pinned, and every collector module at the release."""
    required = {r["Path"]: r["Version"] for r in gomod.get("Require") or []}
    allowed = {tool.version} | {v for v in (tool.stable_version, tool.contrib_stable_version) if v}
    problems = []
    for kind in MANIFEST_KINDS:
        for entry in manifest.get(kind) or []:
            module, _, version = str(entry["gomod"]).partition(" ")
            if required.get(module) != version:
                problems.append(f"{module} resolved to {required.get(module)}, manifest says {version}")
    for module, version in sorted(required.items()):
        if module.startswith(COLLECTOR_PREFIXES) and version not in allowed:
            problems.append(
                f"{module} resolved to {version}, not at the release ({', '.join(sorted(allowed))})"
            )
    if problems:
        raise ToolError("the collector's modules are not at one release: " + "; ".join(problems))


def _install_otelcol(tool: Tool, go: str, work: Path, bindir: Path, log: TextIO, verbose: bool) -> None:
    """The collector builder with the manifest (paths made absolute, output in `work`).

    The builder resolves modules with `go mod tidy`, which also resolves the tests of every
    component; some of their test-only modules are not served here (pkg/semconvtest v0.161.0), so
    it runs with GOFLAGS=-e (used by `go mod tidy` only: other go commands do not know the flag).
    A module that the build itself needs and that is missing still fails the compile. The
    builder's strict versioning is on, and _check_release then checks every collector module.
    """
    assert tool.manifest is not None
    manifest = check_manifest(tool)
    builder_tool = _builder_tool(tool)
    builder_bin = _built(builder_tool)
    if builder_bin is None:
        log.write(f"# installing the collector builder {tool.module}@{tool.version}\n")
        builder_bin = _build_atomically(builder_tool, go, log, verbose)
    src = work / "src"
    manifest.setdefault("dist", {})["output_path"] = str(src)
    local = local_replaces(tool.manifest)
    replaces = []
    for line in manifest.get("replaces") or []:
        old, _, new = (part.strip() for part in str(line).partition("=>"))
        replaces.append(f"{old} => {local.get(old.split()[0], new)}")
    if replaces:
        manifest["replaces"] = replaces
    generated = work / "otelcol-builder.yaml"
    generated.write_text(yaml.safe_dump(manifest, sort_keys=False))
    env = _go_env(tool)
    env["GOFLAGS"] = " ".join([*env.get("GOFLAGS", "").split(), "-e"])
    builder = [str(builder_bin / "builder"), f"--config={generated}", "--skip-strict-versioning=false"]
    _run(builder, log, verbose, cwd=work, env=env)
    edit = subprocess.run([go, "mod", "edit", "-json"], cwd=src, capture_output=True, text=True, check=True)
    _check_release(tool, manifest, json.loads(edit.stdout))
    name = str(manifest["dist"].get("name") or "otelcol")
    bindir.mkdir(parents=True, exist_ok=True)
    for binary in tool.binaries:
        shutil.move(str(src / (binary if binary != "otelcol" else name)), bindir / binary)


INSTALLERS = {
    "go-install": _install_go_install,
    "module": _install_module,
    "source": _install_source,
    "otelcol-builder": _install_otelcol,
}


@contextlib.contextmanager
def _lock(tool: Tool) -> Iterator[None]:
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".lock-{tool.name}-{tool.version}", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _rename_binaries(tool: Tool, bindir: Path, log: TextIO) -> None:
    """Give binaries that `go install` names after their package the tool's names (etcd's `server`)."""
    for installed, binary in tool.rename:
        source = bindir / installed
        if not source.is_file():
            raise ToolError(f"rename: the build left no {installed} in {bindir} to rename to {binary}")
        log.write(f"# rename {installed} -> {binary}\n")
        os.replace(source, bindir / binary)


def _build_atomically(tool: Tool, go: str, log: TextIO, verbose: bool) -> Path:
    """Build into <root>/.tmp-<name>-<version>-*, verify, rename to <root>/<name>-<version>."""
    root = cache_root()
    final = tool_dir(tool)
    with _lock(tool):
        done = _built(tool)
        if done is not None:
            return done
        for stale in root.glob(f".tmp-{tool.name}-{tool.version}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=f".tmp-{tool.name}-{tool.version}-", dir=root))
        work.chmod(0o755)  # like a GOBIN: other users (services run by the tests) may run the tools
        try:
            bindir = work / "bin"
            bindir.mkdir()
            started = time.monotonic()
            INSTALLERS[tool.build](tool, go, work, bindir, log, verbose)
            _rename_binaries(tool, bindir, log)
            for binary in tool.binaries:
                path = bindir / binary
                if not _is_executable(path):
                    raise ToolError(f"the build left no executable {binary} in {bindir}")
                ok, found = _version_matches(tool, path)
                if not ok:
                    raise ToolError(f"{binary} reports version {found!r}, expected {tool.reports}")
            stamp = {
                "name": tool.name,
                "version": tool.version,
                "digest": tool.digest(),
                "inputs": tool.inputs(),
                "go": subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True).stdout.strip(),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "build_seconds": round(time.monotonic() - started, 1),
            }
            (work / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
            if final.exists():
                old = final.with_name(f".old-{final.name}-{os.getpid()}")
                os.rename(final, old)
                os.rename(work, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(work, final)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return final / "bin"


def _say(text: str) -> None:
    print(text, flush=True)


def of_stage(stage: str, table: dict[str, Tool] | None = None) -> list[Tool]:
    """The tools of one stage (``all``: every tool), in table order."""
    table = table if table is not None else load_table()
    if stage != "all" and stage not in STAGES:
        raise ToolError(f"stage {stage!r} is not one of {(*STAGES, 'all')}")
    return [t for t in table.values() if stage in ("all", t.stage)]


def not_built(tools: Sequence[Tool]) -> list[Tool]:
    """Those of `tools` that are neither built nor on PATH at their version."""
    return [t for t in tools if _resolve(t)[0] == "missing"]


def build(
    names: Sequence[str] = (),
    verbose: bool = False,
    table: dict[str, Tool] | None = None,
    stage: str = "setup",
) -> int:
    """Build every missing tool of `stage` (or those named); 0 when all are there afterwards."""
    table = table if table is not None else load_table()
    selected = [_lookup(n, table)[0] for n in names] if names else of_stage(stage, table)
    go = go_binary()
    go_problem: str | None = None
    if go is None:
        go_problem = "no `go` on PATH"
    else:
        have = go_version(go)
        if have is None or have[:2] < GO_MIN:
            go_problem = f"{go} is Go {'.'.join(map(str, have)) if have else '(unknown)'}, older than 1.26"
    missing: list[str] = []
    failed: list[str] = []
    for tool in selected:
        label = f"{tool.name} {tool.version}"
        started = time.monotonic()
        state, paths = _resolve(tool)
        if state == "built":
            _say(f"{label}: ok (cached, {time.monotonic() - started:.2f} s) {tool_dir(tool) / 'bin'}")
            continue
        if state == "on PATH":
            _record_on_path(tool, paths)
            where = ", ".join(str(p) for p in paths.values())
            _say(f"{label}: ok (on PATH at {tool.reports}: {where}; {time.monotonic() - started:.2f} s)")
            continue
        if go_problem is not None or go is None:
            missing.append(tool.name)
            _say(f"{label}: missing, not built ({go_problem})")
            continue
        _say(f"{label}: building… ({tool.build}: {', '.join(tool.binaries)})")
        root = cache_root()
        root.mkdir(parents=True, exist_ok=True)
        log_path = root / f"{tool.name}-{tool.version}.build.log"
        try:
            with open(log_path, "w") as log:
                bindir = _build_atomically(tool, go, log, verbose)
        except ToolError as exc:
            failed.append(tool.name)
            _say(f"{label}: FAILED after {time.monotonic() - started:.0f} s: {exc}")
            tail = log_path.read_text().splitlines()[-25:]
            for line in tail:
                _say(f"    {line}")
            _say(f"    full log: {log_path}")
            continue
        _say(f"{label}: built, took {time.monotonic() - started:.0f} s -> {bindir}")
    if missing:
        print(f"tools: {', '.join(missing)} missing and {go_problem}: {GO_INSTALL_HINT}", file=sys.stderr)
    if failed:
        print(f"tools: failed to build {', '.join(failed)} (logs in {cache_root()})", file=sys.stderr)
    return 1 if missing or failed else 0


def modsrc(name: str, table: dict[str, Tool] | None = None) -> Path:
    """Source directory of the tool's module at the pinned version in GOMODCACHE (downloaded if needed)."""
    table = table if table is not None else load_table()
    tool, _ = _lookup(name, table)
    go = go_binary()
    if go is None:
        raise ToolError(f"no `go` on PATH to find {tool.module}@{tool.version}: {GO_INSTALL_HINT}")
    return Path(module_download(go, tool.module, tool.version)["Dir"])


def list_tools(table: dict[str, Tool] | None = None) -> list[tuple[str, str, str, str]]:
    table = table if table is not None else load_table()
    rows = []
    for tool in table.values():
        state, paths = _resolve(tool)
        rows.append((tool.name, tool.version, state, " ".join(str(p) for p in paths.values()) or "-"))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m obsctl.tools", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="build the missing tools (all, or those named)")
    p_build.add_argument("names", nargs="*", metavar="NAME")
    p_build.add_argument("-v", "--verbose", action="store_true", help="show the go commands' output")
    p_build.add_argument(
        "--stage",
        choices=(*STAGES, "all"),
        default="setup",
        help="without NAMEs: the tools of this stage (default setup, what `make setup` builds)",
    )
    sub.add_parser("list", help="name, version, state and path of every tool")
    p_path = sub.add_parser("path", help="path of a tool's binary (tool or binary name)")
    p_path.add_argument("name", metavar="NAME")
    p_src = sub.add_parser("modsrc", help="source directory of the tool's module in GOMODCACHE")
    p_src.add_argument("name", metavar="NAME")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            return build(args.names, verbose=args.verbose, stage=args.stage)
        if args.command == "list":
            rows = list_tools()
            widths = [max(len(r[i]) for r in rows) for i in range(3)]
            for row in rows:
                print("  ".join(col.ljust(widths[i]) for i, col in enumerate(row[:3])) + "  " + row[3])
            return 0
        if args.command == "path":
            print(tool_path(args.name))
            return 0
        if args.command == "modsrc":
            print(modsrc(args.name))
            return 0
    except ToolError as exc:
        print(f"tools: {exc}", file=sys.stderr)
        return 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
