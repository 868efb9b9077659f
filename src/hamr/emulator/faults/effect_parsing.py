"""A fault rule's effects as a person sends them (status, latency, fault, and a sequence
item's pass), checked: each problem reported at its JSON pointer, with what to fix."""

from __future__ import annotations

from collections.abc import Mapping

from hamr.domain.errors import Violation
from hamr.emulator.faults.checks import finite, listed, positive_int, refuse_unknown, shown
from hamr.emulator.faults.model import (
    DELAY_FIELDS,
    DOWN,
    FAULT_KINDS,
    LATENCY_FIELDS,
    PASS_THROUGH,
    RETRY_AFTER_STATUSES,
    STATUSES,
    ConnectionFault,
    Delay,
    FixedDelay,
    LatencyEffect,
    LognormalDelay,
    StatusEffect,
    Step,
    UniformDelay,
)


def effects_in(
    data: Mapping[object, object], at: str, problems: list[Violation], *, in_sequence: bool
) -> list[Step | None]:
    """Every effect `data` names, each checked (None where it is wrong); the caller checks
    that there is exactly one."""
    found: list[Step | None] = []
    if "status" in data:
        found.append(_status_effect(data, at, problems))
    elif "retry_after" in data:
        problems.append(
            Violation(
                f"{at}/retry_after",
                "retry_after goes only with status 429 or 503; add the status, or remove "
                "retry_after.",
            )
        )
    if "latency" in data:
        found.append(_latency_effect(data["latency"], f"{at}/latency", problems))
    if "fault" in data:
        found.append(_connection_fault(data["fault"], f"{at}/fault", problems, in_sequence))
    if in_sequence and "pass" in data:
        if data["pass"] is True:
            found.append(PASS_THROUGH)
        else:
            found.append(None)
            problems.append(
                Violation(
                    f"{at}/pass",
                    "pass must be true (let this one request through); to answer the request "
                    f"instead, give status, latency or fault; got {shown(data['pass'])}.",
                )
            )
    return found


def _status_effect(
    data: Mapping[object, object], at: str, problems: list[Violation]
) -> StatusEffect | None:
    start = len(problems)
    status = data["status"]
    if not isinstance(status, int) or isinstance(status, bool) or status not in STATUSES:
        problems.append(
            Violation(f"{at}/status", f"status must be 429, 500 or 503; got {shown(status)}.")
        )
    retry_after: int | None = None
    if "retry_after" in data:
        retry_after = positive_int(data["retry_after"])
        if retry_after is None:
            problems.append(
                Violation(
                    f"{at}/retry_after",
                    "retry_after must be a whole number of seconds, 1 or more; "
                    f"got {shown(data['retry_after'])}.",
                )
            )
        elif status not in RETRY_AFTER_STATUSES and len(problems) == start:
            problems.append(
                Violation(
                    f"{at}/retry_after",
                    f"retry_after goes only with status 429 or 503, not {status}; "
                    "remove it, or change the status.",
                )
            )
    if len(problems) > start or not isinstance(status, int):
        return None
    return StatusEffect(status, retry_after)


def _latency_effect(value: object, at: str, problems: list[Violation]) -> LatencyEffect | None:
    if not isinstance(value, Mapping):
        problems.append(
            Violation(
                at,
                f'latency must be an object such as {{"fixed_ms": 200}}; got {shown(value)}.',
            )
        )
        return None
    start = len(problems)
    refuse_unknown(
        value,
        LATENCY_FIELDS,
        at,
        problems,
        "latency takes one of fixed_ms, uniform or lognormal, and optionally max_ms",
    )
    given = [name for name in DELAY_FIELDS if name in value]
    if len(given) != 1:
        problems.append(
            Violation(
                at,
                "latency takes exactly one of fixed_ms, uniform or lognormal; "
                f"got {listed(given)}.",
            )
        )
    delays: list[Delay | None] = []
    if "fixed_ms" in value:
        fixed = _non_negative(value, "fixed_ms", at, problems)
        delays.append(None if fixed is None else FixedDelay(fixed))
    if "uniform" in value:
        delays.append(_uniform(value["uniform"], f"{at}/uniform", problems))
    if "lognormal" in value:
        delays.append(_lognormal(value["lognormal"], f"{at}/lognormal", problems))
    max_ms = _non_negative(value, "max_ms", at, problems) if "max_ms" in value else None
    if len(problems) > start or len(delays) != 1 or delays[0] is None:
        return None
    return LatencyEffect(delays[0], max_ms)


def _uniform(value: object, at: str, problems: list[Violation]) -> UniformDelay | None:
    parts = _parts(
        value, ("lower_ms", "upper_ms"), at, problems, '{"lower_ms": 10, "upper_ms": 50}'
    )
    if parts is None:
        return None
    lower, upper = parts
    if lower > upper:
        problems.append(
            Violation(
                f"{at}/lower_ms",
                f"lower_ms ({shown(lower)}) must not exceed upper_ms ({shown(upper)}); "
                "swap them, or use fixed_ms for one delay.",
            )
        )
        return None
    return UniformDelay(lower, upper)


def _lognormal(value: object, at: str, problems: list[Violation]) -> LognormalDelay | None:
    parts = _parts(value, ("median_ms", "sigma"), at, problems, '{"median_ms": 100, "sigma": 0.5}')
    return None if parts is None else LognormalDelay(*parts)


def _parts(
    value: object,
    names: tuple[str, str],
    at: str,
    problems: list[Violation],
    example: str,
) -> tuple[float, float] | None:
    """The two numbers a distribution object must hold, or None (each problem reported)."""
    kind = at.rsplit("/", 1)[-1]
    if not isinstance(value, Mapping):
        problems.append(
            Violation(at, f"{kind} must be an object such as {example}; got {shown(value)}.")
        )
        return None
    start = len(problems)
    refuse_unknown(value, names, at, problems, f"{kind} takes {names[0]} and {names[1]}")
    found: list[float] = []
    for name in names:
        if name not in value:
            problems.append(Violation(f"{at}/{name}", f"Missing required {name}, as in {example}."))
            continue
        number = (
            _sigma(value, at, problems)
            if name == "sigma"
            else _non_negative(value, name, at, problems)
        )
        if number is not None:
            found.append(number)
    if len(problems) > start or len(found) != 2:
        return None
    return found[0], found[1]


def _sigma(data: Mapping[object, object], at: str, problems: list[Violation]) -> float | None:
    value = finite(data["sigma"])
    if value is not None and value > 0:
        return value
    problems.append(
        Violation(
            f"{at}/sigma",
            "sigma must be a number more than 0 (0.5 is a moderate spread; for one delay use "
            f"fixed_ms); got {shown(data['sigma'])}.",
        )
    )
    return None


def _connection_fault(
    value: object, at: str, problems: list[Violation], in_sequence: bool
) -> ConnectionFault | None:
    if not isinstance(value, str) or value not in FAULT_KINDS:
        problems.append(
            Violation(
                at,
                "fault must be one of connection_reset, empty_response, malformed_body or "
                f"down; got {shown(value)}.",
            )
        )
        return None
    if value == DOWN and in_sequence:
        problems.append(
            Violation(
                at,
                'fault "down" takes a datacenter down for as long as its rule lasts, not for '
                "one request; give it as the rule's own fault, or use connection_reset here.",
            )
        )
        return None
    return ConnectionFault(value)


def _non_negative(
    data: Mapping[object, object], name: str, at: str, problems: list[Violation]
) -> float | None:
    value = finite(data[name])
    if value is not None and value >= 0:
        return value
    problems.append(
        Violation(
            f"{at}/{name}",
            f"{name} must be a number of milliseconds, 0 or more; got {shown(data[name])}.",
        )
    )
    return None
