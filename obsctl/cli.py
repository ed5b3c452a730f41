"""The obsctl command line. Each area adds its commands in its own module; this file wires them.

User errors (ObsctlError) print as clear messages and exit 2; they never show a traceback.
SIGTERM ends a command the way Ctrl-C does: what it started for itself (a benchmark's stacks, a
demo's load) is stopped on the way out, and the exit status is 143.
"""

from __future__ import annotations

import importlib
import signal
import sys
from types import FrameType

import click

from obsctl.errors import ObsctlError

# (module, attribute) of every command group or command, imported lazily so one area's import
# cost is not paid by another's commands.
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("obsctl.commands.generate", "generate"),
    "check": ("obsctl.commands.generate", "check"),
    "dashboards": ("obsctl.commands.dashboards", "dashboards"),
    "up": ("obsctl.commands.stack", "up"),
    "down": ("obsctl.commands.stack", "down"),
    "status": ("obsctl.commands.stack", "status"),
    "fault": ("obsctl.commands.fault", "fault"),
    "load": ("obsctl.commands.load", "load"),
    "demo": ("obsctl.commands.demo", "demo"),
    "slo": ("obsctl.commands.slo", "slo"),
    "bench": ("obsctl.commands.bench", "bench"),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr = COMMANDS[cmd_name]
        cmd = getattr(importlib.import_module(module), attr)
        assert isinstance(cmd, click.Command)
        return cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Observability as code for the payment platform: generate, prove, run."""


def _terminated(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds through every `finally`, as KeyboardInterrupt does for Ctrl-C; the default
    # action of SIGTERM would end the process with its stacks still running.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends it at once
    raise SystemExit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _terminated)
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ObsctlError as exc:
        for problem in exc.problems:
            click.secho(f"error: {problem}", fg="red", err=True)
        sys.exit(2)
