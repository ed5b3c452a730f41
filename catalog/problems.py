"""How every loader of an observability/ file reports what is wrong with it.

A `Problem` names the file, the object and the field, and says what was found and what was
expected; a `SpecError` carries every problem of an input at once. The services (through the
catalog) and obsctl (for every other source file) share this vocabulary, so a typo reads the same
wherever it is caught.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict


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


class SpecError(Exception):
    """An error the user can fix; carries every problem found, not only the first."""

    def __init__(self, problems: list[Problem] | str):
        if isinstance(problems, str):
            problems = [Problem(file="obsctl", message=problems)]
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def validation_problems(file: str, exc: Any, obj: str | None = None) -> list[Problem]:
    """A pydantic ValidationError as problems naming the file, the object and the field's path."""
    return [
        Problem(file=file, obj=obj, field=".".join(str(p) for p in e["loc"]) or None, message=e["msg"])
        for e in exc.errors()
    ]


def from_validation(file: str, exc: Any, obj: str | None = None) -> SpecError:
    return SpecError(validation_problems(file, exc, obj))


class StrictModel(BaseModel):
    """The base of every model of a source file: unknown keys are errors, values are immutable,
    and a field aliased after a Python keyword (`for`) is also accepted by its own name."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
