"""pydantic's validation errors as hamr's violations, the one mapping every body checked by a
pydantic model goes through: each problem at the JSON pointer of what was sent, with a detail
saying what to send instead, in the words the body's `BodyRules` give (a validator's own
message is kept as it is)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import pydantic
from pydantic_core import ErrorDetails

from hamr.domain.errors import ValidationFailed, Violation

Model = TypeVar("Model", bound=pydantic.BaseModel)
SHOWN_LENGTH = 60


@dataclass(frozen=True, slots=True)
class BodyRules:
    """What to tell the sender of one kind of body. `fields` says, by JSON pointer, what
    belongs there (`body`, where it says nothing: a body that is not an object, say);
    `missing` and `invalid` frame that for a member left out or wrong; `unknown` answers a
    member the body does not take, and `not_json` a body that is not JSON at all. `sent_at`
    gives, for a member the model was shown somewhere else, the pointer it was sent at.

    Each text may say {what} (the field's rule), {name} (the member, or "body"), {got} (what
    was sent, as JSON) and {kind} (its JSON type)."""

    body: str
    fields: Mapping[str, str] = field(default_factory=dict)
    unknown: str = "{name} is not a field here."
    not_json: str | None = None
    missing: str = "{what}"
    invalid: str = "{what}"
    sent_at: Mapping[str, str] = field(default_factory=dict)


def parsed(model: type[Model], raw: bytes, rules: BodyRules) -> Model:
    """The JSON body `raw` as `model`, or ValidationFailed naming every problem in it."""
    try:
        return model.model_validate_json(raw)
    except pydantic.ValidationError as error:
        raise ValidationFailed(violations(error, rules)) from None


def violations(error: pydantic.ValidationError, rules: BodyRules) -> list[Violation]:
    return [violation(details, rules) for details in error.errors(include_url=False)]


def violation(error: ErrorDetails, rules: BodyRules) -> Violation:
    """One of pydantic's errors (as `errors()` lists them) as a violation."""
    location = "".join(f"/{_escaped(part)}" for part in error["loc"])
    pointer = rules.sent_at.get(location, location)
    kind = error["type"]
    if kind == "value_error":  # a validator's ValueError says what to fix itself
        return Violation(pointer, str(error.get("ctx", {}).get("error", error["msg"])))
    if kind == "json_invalid" and rules.not_json is not None:
        text = rules.not_json
    elif kind == "extra_forbidden":
        text = rules.unknown
    else:
        frame = rules.missing if kind == "missing" else rules.invalid
        text = frame.replace("{what}", rules.fields.get(location, rules.body))
    name = pointer.rsplit("/", 1)[-1].replace("~1", "/").replace("~0", "~") if pointer else "body"
    if "{got}" in text or "{kind}" in text:
        text = text.replace("{got}", _shown(error["input"])).replace("{kind}", _kind(error))
    return Violation(pointer, text.replace("{name}", name).strip())


def _escaped(part: int | str) -> str:
    """One step of a location, as RFC 6901 writes it in a pointer."""
    return str(part).replace("~", "~0").replace("/", "~1")


def _shown(value: object) -> str:
    """What was sent, as JSON, cut short when long."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= SHOWN_LENGTH else text[: SHOWN_LENGTH - 3] + "..."


def _kind(error: ErrorDetails) -> str:
    """The JSON type of what was sent; a string's length, where that is what was wrong."""
    value = error["input"]
    if error["type"] in ("string_too_short", "string_too_long") and isinstance(value, str):
        return f"{_json_type(value)} of {len(value)} characters"
    return _json_type(value)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string" if value.strip() else "a blank string"
    if isinstance(value, list):
        return "an array"
    return "an object"
