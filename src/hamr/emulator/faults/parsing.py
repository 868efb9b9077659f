"""Fault rules as a person sends them, checked: every problem reported at once, each at its
JSON pointer into what was sent, with a detail that says what to fix."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping

from hamr.domain.errors import ValidationFailed, Violation
from hamr.domain.rules import canonical_datacenter, is_uuid
from hamr.emulator.faults.model import (
    DELAY_FIELDS,
    DOWN,
    EFFECT_FIELDS,
    FAULT_KINDS,
    LATENCY_FIELDS,
    PASS_THROUGH,
    RETRY_AFTER_STATUSES,
    RULE_FIELDS,
    STATUSES,
    STEP_FIELDS,
    ConnectionFault,
    Delay,
    FaultRule,
    FixedDelay,
    LatencyEffect,
    LognormalDelay,
    StatusEffect,
    Step,
    UniformDelay,
)

_METHOD = re.compile(r"^[A-Za-z]+$")
_SHOWN_LENGTH = 60


def parse_rule(data: object, rule_id: str) -> FaultRule:
    """The rule `data` describes, or ValidationFailed naming every problem in it at once, each
    at its JSON pointer into `data`."""
    if not isinstance(data, Mapping):
        raise ValidationFailed(
            [
                Violation(
                    "",
                    f'A fault rule must be a JSON object such as {{"status": 503}}; '
                    f"got {_shown(data)}.",
                )
            ]
        )
    problems: list[Violation] = []
    _refuse_unknown(
        data,
        RULE_FIELDS,
        "",
        problems,
        "a rule takes method, path, org, datacenter, probability, times, and one of "
        "status (with retry_after), latency, fault or sequence",
    )
    method = _method(data, problems)
    path = _path(data, problems)
    org = _org(data, problems)
    datacenter = _datacenter(data, problems)
    probability = _probability(data, problems)
    times = _times(data, problems)
    given = [name for name in (*EFFECT_FIELDS, "sequence") if name in data]
    if len(given) != 1:
        problems.append(
            Violation(
                "",
                "A rule takes exactly one of status, latency, fault or sequence; "
                f"got {_listed(given)}.",
            )
        )
    effects = _effects_in(data, "", problems, in_sequence=False)
    sequence = _sequence(data["sequence"], problems) if "sequence" in data else None
    if ConnectionFault(DOWN) in effects:
        problems += _down_violations(data)
    if problems:
        raise ValidationFailed(problems)
    steps = sequence if sequence is not None else tuple(e for e in effects if e is not None)
    return FaultRule(
        id=rule_id,
        method=method,
        path=path,
        org=org,
        datacenter=datacenter,
        probability=probability,
        times=times,
        effects=steps,
        is_sequence=sequence is not None,
    )


def _down_violations(data: Mapping[object, object]) -> list[Violation]:
    """A datacenter that is down refuses every connection, before anything of a request is
    known or any draw is made: `down` names the datacenter and nothing narrower."""
    problems = [
        Violation(
            f"/{name}",
            f'fault "down" takes a whole datacenter down, so it takes no {name} match; '
            f"remove {name}, or use connection_reset to break only some requests.",
        )
        for name in ("method", "path", "org")
        if name in data
    ]
    probability = _finite(data.get("probability", 1))
    if probability is not None and 0 <= probability < 1:
        problems.append(
            Violation(
                "/probability",
                'fault "down" is all or nothing (connections to the datacenter are refused '
                "before any draw); remove probability, or use connection_reset to break a "
                "share of requests.",
            )
        )
    if "datacenter" not in data:
        problems.append(
            Violation(
                "/fault",
                'fault "down" needs the datacenter that is down; add a datacenter match '
                'such as "eu1".',
            )
        )
    return problems


def _method(data: Mapping[object, object], problems: list[Violation]) -> str | None:
    if "method" not in data:
        return None
    value = data["method"]
    if isinstance(value, str) and _METHOD.match(value):
        return value.upper()
    problems.append(
        Violation("/method", f'method must be an HTTP method such as "GET"; got {_shown(value)}.')
    )
    return None


def _path(data: Mapping[object, object], problems: list[Violation]) -> str | None:
    if "path" not in data:
        return None
    value = data["path"]
    if isinstance(value, str) and value.startswith("/") and "*" not in value[:-1]:
        return value
    problems.append(
        Violation(
            "/path",
            'path must be a path such as "/api/v2/hamr", or a prefix ending in "*" such as '
            f'"/api/v2/hamr/*"; got {_shown(value)}.',
        )
    )
    return None


def _org(data: Mapping[object, object], problems: list[Violation]) -> str | None:
    if "org" not in data:
        return None
    value = data["org"]
    if isinstance(value, str) and is_uuid(value):
        return value.lower()
    problems.append(
        Violation(
            "/org",
            "org must be an organization's UUID such as "
            f'"550e8400-e29b-41d4-a716-446655440000"; got {_shown(value)}.',
        )
    )
    return None


def _datacenter(data: Mapping[object, object], problems: list[Violation]) -> str | None:
    if "datacenter" not in data:
        return None
    value = data["datacenter"]
    if isinstance(value, str) and value.strip() and value == value.strip():
        return canonical_datacenter(value)
    problems.append(
        Violation(
            "/datacenter",
            f'datacenter must name a datacenter such as "eu1"; got {_shown(value)}.',
        )
    )
    return None


def _probability(data: Mapping[object, object], problems: list[Violation]) -> float:
    if "probability" not in data:
        return 1
    value = _finite(data["probability"])
    if value is not None and 0 <= value <= 1:
        return value
    problems.append(
        Violation(
            "/probability",
            "probability must be a number from 0 (never fire) to 1 (always fire); "
            f"got {_shown(data['probability'])}.",
        )
    )
    return 1


def _times(data: Mapping[object, object], problems: list[Violation]) -> int | None:
    if "times" not in data:
        return None
    value = _positive_int(data["times"])
    if value is None:
        problems.append(
            Violation(
                "/times",
                "times must be a whole number of firings, 1 or more (leave it out for no "
                f"limit); got {_shown(data['times'])}.",
            )
        )
    return value


def _sequence(value: object, problems: list[Violation]) -> tuple[Step, ...] | None:
    """The sequence's items, or None when any of them is wrong (each reported)."""
    if not isinstance(value, list) or not value:
        problems.append(
            Violation(
                "/sequence",
                'sequence must be a non-empty list of effects such as [{"status": 503}, '
                f'{{"pass": true}}]; got {_shown(value)}.',
            )
        )
        return None
    start = len(problems)
    steps: list[Step] = []
    for index, item in enumerate(value):
        at = f"/sequence/{index}"
        if not isinstance(item, Mapping):
            problems.append(
                Violation(
                    at,
                    "Each sequence item must be an object with one of status, latency, fault "
                    f'or pass, such as {{"status": 503}}; got {_shown(item)}.',
                )
            )
            continue
        _refuse_unknown(
            item,
            STEP_FIELDS,
            at,
            problems,
            "a sequence item takes one of status (with retry_after), latency, fault or pass; "
            "matches, probability and times belong to the rule",
        )
        given = [name for name in ("status", "latency", "fault", "pass") if name in item]
        if len(given) != 1:
            problems.append(
                Violation(
                    at,
                    "Each sequence item takes exactly one of status, latency, fault or pass; "
                    f"got {_listed(given)}.",
                )
            )
        found = _effects_in(item, at, problems, in_sequence=True)
        if len(found) == 1 and found[0] is not None:
            steps.append(found[0])
    return tuple(steps) if len(problems) == start else None


def _effects_in(
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
                    f"instead, give status, latency or fault; got {_shown(data['pass'])}.",
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
            Violation(f"{at}/status", f"status must be 429, 500 or 503; got {_shown(status)}.")
        )
    retry_after: int | None = None
    if "retry_after" in data:
        retry_after = _positive_int(data["retry_after"])
        if retry_after is None:
            problems.append(
                Violation(
                    f"{at}/retry_after",
                    "retry_after must be a whole number of seconds, 1 or more; "
                    f"got {_shown(data['retry_after'])}.",
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
                f'latency must be an object such as {{"fixed_ms": 200}}; got {_shown(value)}.',
            )
        )
        return None
    start = len(problems)
    _refuse_unknown(
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
                f"got {_listed(given)}.",
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
                f"lower_ms ({_shown(lower)}) must not exceed upper_ms ({_shown(upper)}); "
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
            Violation(at, f"{kind} must be an object such as {example}; got {_shown(value)}.")
        )
        return None
    start = len(problems)
    _refuse_unknown(value, names, at, problems, f"{kind} takes {names[0]} and {names[1]}")
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
    value = _finite(data["sigma"])
    if value is not None and value > 0:
        return value
    problems.append(
        Violation(
            f"{at}/sigma",
            "sigma must be a number more than 0 (0.5 is a moderate spread; for one delay use "
            f"fixed_ms); got {_shown(data['sigma'])}.",
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
                f"down; got {_shown(value)}.",
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
    value = _finite(data[name])
    if value is not None and value >= 0:
        return value
    problems.append(
        Violation(
            f"{at}/{name}",
            f"{name} must be a number of milliseconds, 0 or more; got {_shown(data[name])}.",
        )
    )
    return None


def _finite(value: object) -> float | None:
    """The value if it is a finite JSON number (a bool is not one); ints are kept as ints so
    that documents give back what was sent."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return value if math.isfinite(value) else None
    except OverflowError:  # an int too large for any float
        return None


def _positive_int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return None


def _refuse_unknown(
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
        problems.append(
            Violation(_pointer(at, key), f"Unknown field {_shown(key)}: {takes}{hint}.")
        )


def _pointer(at: str, key: object) -> str:
    """`at` extended by one member, escaped as RFC 6901 requires."""
    return f"{at}/{str(key).replace('~', '~0').replace('/', '~1')}"


def _listed(names: list[str]) -> str:
    if not names:
        return "none"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _shown(value: object) -> str:
    """The value as JSON (as the person sent it), cut short when long."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _SHOWN_LENGTH else text[: _SHOWN_LENGTH - 3] + "..."
