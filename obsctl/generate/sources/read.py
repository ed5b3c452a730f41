"""Read one observability/ file into its model, or fail naming file, object, field, got and expected."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from obsctl.errors import ObsctlError, Problem, validation_problems

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ObsctlError([Problem(file=str(path), message="file not found")]) from exc
    except OSError as exc:
        raise ObsctlError([Problem(file=str(path), message=f"cannot read: {exc}")]) from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ObsctlError([Problem(file=str(path), message=f"not valid YAML: {exc}")]) from exc


def _with_object(problem: Problem, objects: dict[str, str]) -> Problem:
    """`alerts.InstanceDown.for` becomes object `alert InstanceDown`, field `for` when `objects`
    says the entries under `alerts` are alerts."""
    parts = (problem.field or "").split(".")
    if len(parts) >= 2 and parts[0] in objects:
        return dataclasses.replace(
            problem, obj=f"{objects[parts[0]]} {parts[1]}", field=".".join(parts[2:]) or None
        )
    return problem


def load_model(path: Path, model: type[M], objects: dict[str, str] | None = None) -> M:
    """The file at `path` validated by `model`. `objects` names the entries of a top-level mapping
    (e.g. {"alerts": "alert"}) so a problem inside one says which entry it is in."""
    raw = read_yaml(path)
    try:
        return model.model_validate({} if raw is None else raw)
    except ValidationError as exc:
        problems = validation_problems(str(path), exc, model=model)
        raise ObsctlError([_with_object(p, objects or {}) for p in problems]) from exc
