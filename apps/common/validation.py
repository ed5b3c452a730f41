"""Request bodies parsed into strict pydantic models, with errors that name the offending field.

Strict models refuse floats and booleans where an integer is expected, strings where a number is
expected, and unknown fields, so a client mistake always becomes a 4xx with the field's name, never
a 500. `describe()` is the one translation of a pydantic error into what an error body says; every
service (the gateway with its public error code) and the channel's configuration use it.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, TypeVar

from flask import request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from apps.common.errors import ApiError

M = TypeVar("M", bound=BaseModel)

# Internal services answer an invalid field with this code; the public API has its own.
INVALID = "invalid_request"

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _no_control_characters(value: str) -> str:
    if _CONTROL_CHARACTERS.search(value):
        raise ValueError("contains characters that are not allowed (control characters, NUL)")
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character, which is not allowed")
    return value


# Text that reaches PostgreSQL, logs and keys. No control characters in ids (they end up in paths,
# logs and Redis keys), and no NUL anywhere: PostgreSQL text cannot hold it, so it is refused
# when parsed (422) rather than failing a write later (500). Shared by the gateway and payment.
UserId = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_no_control_characters)]
Description = Annotated[str, Field(max_length=255), AfterValidator(_no_nul)]


def has_control_characters(value: str) -> bool:
    """What UserId refuses besides its length (the gateway applies it to ids in paths)."""
    return _CONTROL_CHARACTERS.search(value) is not None


class StrictModel(BaseModel):
    """The base of every request body: exact types, no unknown fields, immutable once parsed."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def describe(exc: ValidationError) -> tuple[str, str]:
    """The first error: the field's dotted path ("body" for the whole object) and what is wrong."""
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    kind = first["type"]
    if kind == "missing":
        message = "this field is required"
    elif kind == "extra_forbidden":
        message = "unknown field"
    else:
        message = str(first["msg"]).removeprefix("Value error, ")
    return field, message


def validation_error(exc: ValidationError, code: str = INVALID) -> ApiError:
    field, message = describe(exc)
    return ApiError(422, code, f"{field}: {message}", field=field)


def parse(model: type[M], data: Any, code: str = INVALID) -> M:
    """Validate already-decoded data (a JSON object, or query arguments) against a strict model;
    ApiError(422, code) naming the first invalid field otherwise."""
    if not isinstance(data, dict):
        raise ApiError(422, code, "the body must be a JSON object", field="body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, code) from None


def json_body(model: type[M]) -> M:
    """The current request's JSON body as `model`; 400 for malformed JSON, 422 for a bad field."""
    raw = request.get_data(cache=True)
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "malformed_json", "the body is not valid JSON", field="body") from None
    return parse(model, data)
