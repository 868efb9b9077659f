"""The admin API's request bodies (`POST /_hamr/reset`, `POST /_hamr/clock`) as pydantic
models, checked strictly, with what to tell a sender who got one wrong."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, model_validator

from hamr.api.pydantic_errors import BodyRules
from hamr.emulator.clock import microseconds
from hamr.emulator.state import Seed

NOT_AN_OBJECT = "The body must be a JSON object."
REAL_ONLY = "real must be true (to go back to the real time)."


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)


class ResetBody(_Body):
    """What to start over with: nothing, or the demo pair."""

    seed: Seed = Seed.EMPTY


RESET_RULES = BodyRules(
    body=NOT_AN_OBJECT,
    fields={"/seed": 'seed must be "empty" or "demo"; got {got}.'},
    unknown="{name} is not a field here; use seed.",
)


def _instant(value: object) -> int:
    """Microseconds since the epoch of an RFC 3339 time with a zone."""
    problem = 'set must be an RFC 3339 time with a zone, e.g. "2026-12-01T12:00:00Z".'
    if not isinstance(value, str):
        raise ValueError(problem)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(problem) from None
    if parsed.tzinfo is None:
        raise ValueError(problem)
    return microseconds(parsed)


def _true(value: bool) -> bool:
    if not value:
        raise ValueError(REAL_ONLY)
    return value


class ClockMove(_Body):
    """Exactly one of: move the clock on by `advance_seconds`, `set` it to a time (kept here
    in microseconds since the epoch), or put it back to the `real` time."""

    advance_seconds: float = 0
    set: Annotated[int, BeforeValidator(_instant)] = 0
    real: Annotated[bool, AfterValidator(_true)] = True

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if len(self.model_fields_set) != 1:
            raise ValueError(
                'Send exactly one of {"advance_seconds": N}, {"set": "<RFC 3339 time>"} '
                'or {"real": true}.'
            )
        return self


CLOCK_RULES = BodyRules(
    body=NOT_AN_OBJECT,
    fields={
        "/advance_seconds": "advance_seconds must be a number of seconds.",
        "/real": REAL_ONLY,
    },
    unknown="{name} is not a field here; use advance_seconds, real, set.",
)
