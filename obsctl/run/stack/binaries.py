"""The Go tools the stack runs, from the pinned table (tools/versions.yaml, built by `make setup`)."""

from __future__ import annotations

from obsctl.run.stack.wait import StackError
from obsctl.tools import ToolError, tool_path


def tool_binary(name: str) -> str:
    """The path of a pinned tool's binary (`prometheus`, `amtool`, ...); a StackError naming
    `make setup` when it is not built."""
    try:
        return str(tool_path(name))
    except ToolError as exc:
        raise StackError(str(exc)) from None
