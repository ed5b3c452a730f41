"""How every loader of an observability/ file reports what is wrong with it.

A `Problem` names the file, the object and the field, and says what was found and what was
expected; a `SpecError` carries every problem of an input at once. The services (through the
catalog) and obsctl (for every other source file) share this vocabulary, so a typo reads the same
wherever it is caught.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

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


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that validates the mapping at `loc` inside `model` (through fields, dict values,
    list and tuple items and optional values), or None when the path leaves the models."""
    current: Any = model
    for part in loc:
        candidates = [current]
        while candidates:
            t = candidates.pop()
            if get_origin(t) in (Union, types.UnionType):
                candidates.extend(get_args(t))
            elif isinstance(t, type) and issubclass(t, BaseModel):
                field = next((f for n, f in t.model_fields.items() if part in (n, f.alias)), None)
                current = field.annotation if field else None
                break
            elif get_origin(t) is dict:
                current = get_args(t)[1]
                break
            elif get_origin(t) in (list, tuple):
                current = get_args(t)[0]
                break
        else:
            return None
    for t in get_args(current) if get_origin(current) in (Union, types.UnionType) else (current,):
        if isinstance(t, type) and issubclass(t, BaseModel):
            return t
    return None


def _message(error: dict[str, Any], model: type[BaseModel] | None) -> str:
    """What was got and what was expected, in words, for one pydantic error."""
    kind, loc, msg = error["type"], tuple(error["loc"]), error["msg"]
    if kind == "missing":
        return "missing; expected this required key"
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1]) if model is not None else None
        keys = [f.alias or n for n, f in parent.model_fields.items()] if parent else []
        expected = f"one of {', '.join(keys)}" if keys else "only the documented keys"
        return f"unknown key; got {loc[-1]!r}, expected {expected}"
    if kind == "value_error":
        # A model's own validator: its message already says what was got and expected.
        return msg.removeprefix("Value error, ")
    expected = (
        "expected " + msg.removeprefix("Input should be ")
        if msg.startswith("Input should be ")
        else ("expected: " + msg[:1].lower() + msg[1:])
    )
    return f"got {_shown(error.get('input'))}; {expected}"


def _union_branches(model: type[BaseModel] | None, loc: tuple[Any, ...]) -> tuple[tuple[Any, ...], bool]:
    """`loc` without the parts pydantic adds to name the branch of a union it tried (`str`,
    `list[str]`, a model's name), and whether there were any: walked along `model`'s types."""
    if model is None:
        return loc, False
    path: list[Any] = []
    tagged = False
    current: Any = model
    for part in loc:
        members = [current]
        if get_origin(current) in (Union, types.UnionType):
            members = [t for t in get_args(current) if t is not type(None)]
        if len(members) > 1:
            tagged = True
            current = next((t for t in members if getattr(t, "__name__", None) == part), None)
            continue
        t = members[0] if members else None
        path.append(part)
        if isinstance(t, type) and issubclass(t, BaseModel):
            field = next((f for n, f in t.model_fields.items() if part in (n, f.alias)), None)
            current = field.annotation if field else None
        elif get_origin(t) is dict:
            current = get_args(t)[1]
        elif get_origin(t) in (list, tuple):
            current = get_args(t)[0]
        else:
            current = None
    return tuple(path), tagged


# From an error's location to the object it is in.
ObjectOf = Callable[[tuple[Any, ...]], str | None]


def validation_problems(
    file: str,
    exc: Any,
    obj: str | ObjectOf | None = None,
    model: type[BaseModel] | None = None,
) -> list[Problem]:
    """A pydantic ValidationError as problems naming the file, the object, the field's path, what
    was got and what was expected.

    `obj` names the object every problem is in, or is a function from an error's location to the
    object it is in (e.g. `slos.0...` to the SLO named in that entry). With the `model` that was
    validated, an unknown key's problem lists the keys allowed where it stands, and the branches of
    a union, which pydantic reports one by one, become one problem listing what each accepts."""
    out: list[Problem] = []
    branches: dict[tuple[Any, ...], Problem] = {}
    for e in exc.errors():
        loc, tagged = _union_branches(model, tuple(e["loc"]))
        where = obj(tuple(e["loc"])) if callable(obj) else obj
        field = ".".join(str(p) for p in loc) or None
        if tagged and e["msg"].startswith("Input should be ") and loc in branches:
            branches[loc].message += " or " + e["msg"].removeprefix("Input should be ")
            continue
        problem = Problem(file=file, obj=where, field=field, message=_message(e, model))
        if tagged:
            branches[loc] = problem
        out.append(problem)
    return out


def from_validation(
    file: str,
    exc: Any,
    obj: str | ObjectOf | None = None,
    model: type[BaseModel] | None = None,
) -> SpecError:
    return SpecError(validation_problems(file, exc, obj, model))


class StrictModel(BaseModel):
    """The base of every model of a source file: unknown keys are errors, values are immutable,
    and a field aliased after a Python keyword (`for`) is also accepted by its own name."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
