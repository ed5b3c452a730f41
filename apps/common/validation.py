"""Request bodies parsed into strict pydantic models, with errors that name the offending field.

Strict models (ConfigDict(strict=True, extra="forbid")) refuse floats and booleans where an integer
is expected and refuse unknown fields, so a client mistake always becomes a 4xx with the field's
name, never a 500.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import request
from pydantic import BaseModel, ConfigDict, ValidationError

from apps.common.errors import ApiError

M = TypeVar("M", bound=BaseModel)

STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)


class StrictModel(BaseModel):
    model_config = STRICT


def field_path(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def validation_error(exc: ValidationError) -> ApiError:
    first = exc.errors()[0]
    field = field_path(tuple(first["loc"]))
    message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
    return ApiError(422, "invalid_request", f"{field}: {message}", field=field)


def parse(model: type[M], data: Any) -> M:
    """Validate already-decoded data (a JSON object, or query arguments) against a strict model."""
    if not isinstance(data, dict):
        raise ApiError(422, "invalid_request", "the body must be a JSON object", field="body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc) from None


def json_body(model: type[M]) -> M:
    """The current request's JSON body as `model`; 400 for malformed JSON, 422 for a bad field."""
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json", "the body is not valid JSON", field="body") from None
    return parse(model, data)
