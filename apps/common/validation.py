"""Request bodies parsed into strict pydantic models, with errors that name the offending field.

Strict models (ConfigDict(strict=True, extra="forbid")) refuse floats and booleans where an integer
is expected and refuse unknown fields, so a client mistake always becomes a 4xx with the field's
name, never a 500.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from flask import request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from apps.common.errors import ApiError

M = TypeVar("M", bound=BaseModel)

STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)

# Text that reaches PostgreSQL, logs and keys. No control characters in ids (they end up in paths,
# logs and Redis keys), and no NUL anywhere: PostgreSQL text cannot hold it, so it is refused
# when parsed (422) rather than failing a write later (500). Shared by the gateway and payment.
UserId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
Description = Annotated[str, Field(max_length=255, pattern=r"^[^\x00]*$")]


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
