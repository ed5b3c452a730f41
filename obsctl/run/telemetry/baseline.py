"""Another revision's services, for `obsctl bench payments --baseline REV`.

The revision is checked out as a git worktree outside the checkout
(`$TMPDIR/obsctl-bench-baseline-<sha>`, /tmp by default) with its own virtualenv (`.venv` inside
it: the revision's own package, installed with this interpreter's library versions as
constraints, so the two revisions differ by their code and not by their dependencies). Its stack
is started by the revision's own code, the way that revision starts it (its
`Stack(...).up(["services"])`: its gunicorn configuration, its environment, its migrations;
uninstrumented), from a small driver run by the worktree's interpreter, which prints the stack's
variables and the pids of its services. The benchmark then drives it with this revision's load
generator and reads CPU and memory from /proc like its own stack's. The worktree is removed at
the end unless kept.

Two layouts are known: `obsctl/run/stack/` (this one) and `observability/obsctl/stack/` (before
the tooling moved, as in 638998d); the public signature scheme is told apart by whether the
revision's gateway signs the Idempotency-Key (`v2`) or not (`v1`, before issue 16).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from obsctl import paths
from obsctl.errors import ObsctlError

# Run by the worktree's interpreter, in the worktree: argv[1] is "up" or "down", argv[2] the state
# directory. `up` prints one JSON line {"env": {...}, "pids": {service: pid}}.
DRIVER = r"""
import json, sys
try:
    from obsctl.run.stack.stack import Stack
    LAYOUT = "run"
except ImportError:
    from obsctl.stack.stack import Stack
    LAYOUT = "old"

command, state = sys.argv[1], sys.argv[2]
stack = Stack(state, instrumented=False)
if command == "down":
    stack.down()
    sys.exit(0)
stack.up(["services"])
env = dict(stack.env())
env["GATEWAY_URL"] = stack.server("gateway").url
if LAYOUT == "run":
    from obsctl.run.telemetry.bench import seed
    env.update(seed(stack))
else:
    from obsctl.telemetry.bench import seed
    env.update(seed(env["DATABASE_URL"]))
pids = {name: stack.server(name).pid for name in stack.services() if stack.server(name).running()}
print("BASELINE " + json.dumps({"env": env, "pids": pids}), flush=True)
"""


def _git(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd or paths.REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ObsctlError(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout.strip()


@dataclass
class BaselineRevision:
    """A worktree of `rev` with its own virtualenv; prepare() makes both, remove() deletes them."""

    rev: str
    sha: str = ""
    path: Path = field(default_factory=Path)

    @classmethod
    def resolve(cls, rev: str) -> BaselineRevision:
        sha = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
        return cls(rev, sha, Path(tempfile.gettempdir()) / f"obsctl-bench-baseline-{sha[:12]}")

    @property
    def python(self) -> Path:
        return self.path / ".venv" / "bin" / "python"

    @property
    def signing_scheme(self) -> str:
        signing = self.path / "apps" / "gateway" / "signing.py"
        text = signing.read_text(encoding="utf-8").lower() if signing.is_file() else ""
        return "v2" if "idempotency" in text else "v1"

    def prepare(self, progress: object = None) -> None:
        say = progress if callable(progress) else (lambda _m: None)
        if self.path.exists() and self.path.stat().st_uid != os.getuid():
            raise ObsctlError(f"{self.path} exists and belongs to another user: remove it first")
        if not (self.path / ".git").exists():
            shutil.rmtree(self.path, ignore_errors=True)
            _git("worktree", "prune")
            say(f"baseline: git worktree of {self.rev} ({self.sha[:12]}) at {self.path}")
            _git("worktree", "add", "--detach", str(self.path), self.sha)
        stamp = self.path / ".venv" / ".bench-installed"
        if stamp.exists():
            return
        say("baseline: its own virtualenv (this interpreter's library versions as constraints)")
        subprocess.run([sys.executable, "-m", "venv", str(self.path / ".venv")], check=True)
        constraints = self.path / ".venv" / "constraints.txt"
        frozen = subprocess.run(
            [sys.executable, "-m", "pip", "freeze", "--exclude-editable"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        lines = [x for x in frozen.splitlines() if x and not x.startswith(("-e", "payment-observability"))]
        constraints.write_text("\n".join(lines) + "\n", encoding="utf-8")
        # With the tools extra: a revision's stack code imports it (promql-parser, for one, moved
        # there from the base dependencies); pip only warns for a revision without the extra.
        done = subprocess.run(
            [
                str(self.python),
                "-m",
                "pip",
                "install",
                "-q",
                "-c",
                str(constraints),
                "-e",
                f"{self.path}[tools]",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise ObsctlError(f"installing the baseline {self.rev} failed: {done.stderr[-2000:]}")
        stamp.write_text(self.sha + "\n", encoding="utf-8")

    def remove(self) -> None:
        if self.path.exists():
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(self.path)],
                cwd=paths.REPO,
                capture_output=True,
                check=False,
            )
            shutil.rmtree(self.path, ignore_errors=True)
        _git("worktree", "prune")


@dataclass
class BaselineStack:
    """The revision's own stack in `state_dir`, started and stopped by its own code."""

    revision: BaselineRevision
    state_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)

    def _environment(self, variables: dict[str, str]) -> dict[str, str]:
        # The revision's own code only: nothing of this checkout on its path.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env.update(variables)
        env["PATH"] = f"{self.revision.python.parent}{os.pathsep}{env.get('PATH', '')}"
        return env

    def up(self, variables: dict[str, str]) -> dict[str, str]:
        done = subprocess.run(
            [str(self.revision.python), "-c", DRIVER, "up", str(self.state_dir)],
            cwd=self.revision.path,
            env=self._environment(variables),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        line = next((x for x in done.stdout.splitlines() if x.startswith("BASELINE ")), None)
        if done.returncode != 0 or line is None:
            self.down()
            raise ObsctlError(f"the baseline's stack did not start: {(done.stderr or done.stdout)[-3000:]}")
        document = json.loads(line.removeprefix("BASELINE "))
        self.env = {str(k): str(v) for k, v in document["env"].items()}
        self.env["LOAD_SIGNING_SCHEME"] = self.revision.signing_scheme
        self.pids = {str(k): int(v) for k, v in document["pids"].items()}
        return self.env

    def down(self) -> None:
        subprocess.run(
            [str(self.revision.python), "-c", DRIVER, "down", str(self.state_dir)],
            cwd=self.revision.path,
            env=self._environment({}),
            capture_output=True,
            timeout=300,
            check=False,
        )
