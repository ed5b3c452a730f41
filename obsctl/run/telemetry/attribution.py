"""Where an instrumented service's Python time goes: py-spy samples split by OpenTelemetry package.

`obsctl bench payments --profile SECONDS` runs py-spy (`record --gil --full-filenames -f raw
--subprocesses`) on every service of an instrumented configuration during a run of its own at the
measured rate, after the measured run, so that the sampler's pauses do not count in the CPU
figures. `--gil` keeps only the thread that holds the interpreter lock, so a sample is Python
running, never a thread waiting on a socket, a lock or the lock itself.

Each sample is put in one category, read from its innermost frames outwards:

- the instrumentation whose code is running: the outermost OpenTelemetry frame of the run of
  frames at the leaf (the standard library and wrapt are looked through, since both are called
  by OpenTelemetry and by everything else), named by its package: `flask` for
  opentelemetry/instrumentation/flask, `sdk` for opentelemetry/sdk, `api` for the API packages.
  A sample in a library or in the application's code under an instrumentation's wrapper is the
  library's work, not the instrumentation's;
- `export threads`: threads that OpenTelemetry started (the batch processors exporting spans and
  logs), whatever they call;
- `not OpenTelemetry`: everything else.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import sysconfig
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from obsctl.errors import ObsctlError

NOT_OTEL = "not OpenTelemetry"
EXPORT_THREADS = "export threads"
SAMPLE_RATE_HZ = 100

_FRAME_FILE = re.compile(r"\((?P<file>[^()]*?)(?::\d+)?\)$")
_OTEL_PATH = re.compile(r"/site-packages/opentelemetry/(?P<rest>.+)$")
# Looked through: called by OpenTelemetry and by the code it wraps alike.
_TRANSPARENT_PACKAGES = ("/site-packages/wrapt/",)


def _stdlib_prefixes() -> tuple[str, ...]:
    # The base interpreter's library (a virtualenv's platstdlib is its own lib/, site-packages and all).
    return (sysconfig.get_paths()["stdlib"].rstrip("/") + "/",)


@dataclass(frozen=True)
class _Frame:
    kind: str  # "otel", "transparent" or "owned"
    package: str = ""


def _otel_package(parts: list[str]) -> str:
    """opentelemetry/instrumentation/flask/... -> flask; the instrumentations' shared modules
    (opentelemetry/instrumentation/utils.py, ...) -> instrumentation; the SDK -> sdk; the
    exporters -> exporter; the API (trace, context, propagate, ...) -> api."""
    if parts[0] == "instrumentation":
        return parts[1] if len(parts) > 2 else "instrumentation"
    if parts[0] in {"sdk", "exporter"}:
        return parts[0]
    return "api"


def classify_frame(frame: str, stdlib: tuple[str, ...]) -> _Frame:
    """One py-spy frame ("function (/path/to/file.py:line)") by the file it runs in."""
    match = _FRAME_FILE.search(frame)
    path = match.group("file") if match else ""
    otel = _OTEL_PATH.search(path)
    if otel:
        return _Frame("otel", _otel_package(otel.group("rest").split("/")))
    if any(p in path for p in _TRANSPARENT_PACKAGES):
        return _Frame("transparent")
    if "/site-packages/" in path:
        return _Frame("owned")
    if not path or path.startswith("<frozen") or path.startswith(stdlib):
        return _Frame("transparent")
    return _Frame("owned")


def category(frames: list[str], stdlib: tuple[str, ...]) -> str:
    """The category of one sample (its frames outermost first)."""
    kinds = [classify_frame(f, stdlib) for f in frames]
    first_owned = next((i for i, k in enumerate(kinds) if k.kind == "owned"), None)
    first_otel = next((i for i, k in enumerate(kinds) if k.kind == "otel"), None)
    if first_otel is not None and (first_owned is None or first_otel < first_owned):
        return EXPORT_THREADS  # a thread whose first code of ours or of a library is OpenTelemetry's
    package = None
    for kind in reversed(kinds):
        if kind.kind == "otel":
            package = kind.package
        elif kind.kind == "owned":
            break
    return package or NOT_OTEL


def parse_raw(lines: Iterable[str]) -> Iterable[tuple[list[str], int]]:
    """py-spy's raw (collapsed) output: one stack per line, frames outermost first separated by
    ';', then a space and the number of samples. The `process N:"cmdline"` frames are dropped."""
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if not f.startswith("process ")]
        if frames:
            yield frames, int(count)


def attribute(lines: Iterable[str], stdlib: tuple[str, ...] | None = None) -> Counter[str]:
    """Samples per category of one py-spy raw profile."""
    prefixes = stdlib if stdlib is not None else _stdlib_prefixes()
    counts: Counter[str] = Counter()
    for frames, n in parse_raw(lines):
        counts[category(frames, prefixes)] += n
    return counts


@dataclass
class Attribution:
    """Samples per category of each service of one configuration's profiled run."""

    samples: dict[str, Counter[str]] = field(default_factory=dict)

    def shares(self, service: str) -> dict[str, float]:
        counts = self.samples.get(service, Counter())
        total = sum(counts.values())
        return {name: n / total for name, n in counts.most_common()} if total else {}

    def ms_per_payment(self, cpu_ms_by_service: Mapping[str, float]) -> dict[str, float]:
        """Each category's share of a service's samples times that service's CPU per payment
        (from the measured run, not perturbed by the sampler), summed over the services."""
        total: dict[str, float] = {}
        for service, cpu_ms in cpu_ms_by_service.items():
            for name, share in self.shares(service).items():
                total[name] = total.get(name, 0.0) + share * cpu_ms
        return dict(sorted(total.items(), key=lambda item: -item[1]))


def py_spy() -> str:
    """The py-spy executable: beside this interpreter (the dev extra installs it) or on PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if not found:
        raise ObsctlError("--profile needs py-spy: install the dev extra (pip install -e '.[dev]')")
    return found


class Profiler:
    """py-spy on each service's process tree for a fixed time, one raw profile per service."""

    def __init__(self, pids: Mapping[str, int], directory: Path, seconds: float) -> None:
        self.outputs = {name: directory / f"{name}.txt" for name in pids}
        command = [py_spy(), "record", "--gil", "--full-filenames", "--subprocesses", "-f", "raw",
                   "-r", str(SAMPLE_RATE_HZ), "-d", str(max(1, round(seconds)))]  # fmt: skip
        self._spies = {
            name: subprocess.Popen(
                [*command, "-o", str(self.outputs[name]), "--pid", str(pid)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for name, pid in pids.items()
        }

    def finish(self, timeout_s: float = 60.0) -> Attribution:
        """Wait for every recording to end; what each found. A recording that failed is an error
        that names the service and py-spy's message (ptrace refused, for example)."""
        failed = []
        for name, spy in self._spies.items():
            try:
                _, err = spy.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                spy.send_signal(signal.SIGINT)
                _, err = spy.communicate(timeout=10)
            if spy.returncode != 0 or not self.outputs[name].exists():
                # py-spy's first line says what went wrong ("Error: ..."); a backtrace follows.
                message = (err or "").strip().splitlines()
                failed.append(f"{name}: {message[0] if message else 'no output'}")
        if failed:
            raise ObsctlError("py-spy could not profile " + "; ".join(failed))
        return Attribution({name: attribute(path.read_text(encoding="utf-8").splitlines())
                            for name, path in self.outputs.items()})  # fmt: skip
