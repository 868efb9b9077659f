"""Checks the fault rule parsers share: numbers as JSON has them, unknown members refused,
and what was sent shown back in a detail, cut short."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

from hamr.domain.errors import Violation

SHOWN_LENGTH = 60


def finite(value: object) -> float | None:
    """The value if it is a finite JSON number (a bool is not one); ints are kept as ints so
    that documents give back what was sent."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return value if math.isfinite(value) else None
    except OverflowError:  # an int too large for any float
        return None


def positive_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return None


def refuse_unknown(
    data: Mapping[object, object],
    allowed: tuple[str, ...],
    at: str,
    problems: list[Violation],
    takes: str,
) -> None:
    """A violation for each key not in `allowed`: a misspelt field would otherwise be
    silently ignored, and the rule do something other than what was meant."""
    for key in data:
        if key in allowed:
            continue
        hint = (
            "; pass only belongs in a sequence item"
            if key == "pass" and "pass" not in allowed
            else ""
        )
        problems.append(Violation(pointer(at, key), f"Unknown field {shown(key)}: {takes}{hint}."))


def pointer(at: str, key: object) -> str:
    """`at` extended by one member, escaped as RFC 6901 requires."""
    return f"{at}/{str(key).replace('~', '~0').replace('/', '~1')}"


def listed(names: list[str]) -> str:
    if not names:
        return "none"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def shown(value: object) -> str:
    """The value as JSON (as the person sent it), cut short when long."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= SHOWN_LENGTH else text[: SHOWN_LENGTH - 3] + "..."
