"""pydantic's validation errors as hamr's violations, the one mapping every body checked by a
pydantic model goes through: each problem at the JSON pointer of what was sent, with a detail
saying what to send instead, in the words the body's `BodyRules` give (a validator's own
message is kept as it is)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

import pydantic
from pydantic_core import ErrorDetails

from hamr.domain.errors import ValidationFailed, Violation

Model = TypeVar("Model", bound=pydantic.BaseModel)


@dataclass(frozen=True, slots=True)
class BodyRules:
    """What to tell the sender of one kind of body. `fields` says, by JSON pointer, what
    belongs there ("{got}" shows what was sent); `unknown` answers a member the body does not
    take ("{name}" names it); `body` anything else, such as a body that is not a JSON object."""

    body: str
    fields: Mapping[str, str]
    unknown: str


def parsed(model: type[Model], raw: bytes, rules: BodyRules) -> Model:
    """The JSON body `raw` as `model`, or ValidationFailed naming every problem in it."""
    try:
        return model.model_validate_json(raw)
    except pydantic.ValidationError as error:
        raise ValidationFailed(violations(error, rules)) from None


def violations(error: pydantic.ValidationError, rules: BodyRules) -> list[Violation]:
    return [_violation(detail, rules) for detail in error.errors(include_url=False)]


def _violation(error: ErrorDetails, rules: BodyRules) -> Violation:
    location = error["loc"]
    pointer = "".join(f"/{str(part).replace('~', '~0').replace('/', '~1')}" for part in location)
    if error["type"] == "value_error":  # a validator's ValueError says what to fix itself
        return Violation(pointer, str(error.get("ctx", {}).get("error", error["msg"])))
    if error["type"] == "extra_forbidden":
        return Violation(pointer, rules.unknown.replace("{name}", str(location[-1])))
    return Violation(pointer, rules.fields.get(pointer, rules.body).replace("{got}", _shown(error)))


def _shown(error: ErrorDetails) -> str:
    """What was sent, as JSON."""
    try:
        return json.dumps(error["input"])
    except (TypeError, ValueError):
        return repr(error["input"])
