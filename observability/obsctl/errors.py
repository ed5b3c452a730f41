"""User-facing errors: printed as one clear message, never as a traceback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Problem:
    """One thing wrong with an input: where (file, object, field) and what was expected."""

    file: str
    message: str
    obj: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file
        if self.obj:
            where += f": {self.obj}"
        if self.field:
            where += f": {self.field}"
        return f"{where}: {self.message}"


class ObsctlError(Exception):
    """An error the user can fix; carries every problem found, not only the first."""

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem(file="obsctl", message=problems)]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def from_validation(file: str, exc: Any) -> ObsctlError:
    """A pydantic ValidationError as problems that name the file and the field's path."""
    return ObsctlError(
        [
            Problem(file=file, field=".".join(str(p) for p in e["loc"]) or None, message=e["msg"])
            for e in exc.errors()
        ]
    )
