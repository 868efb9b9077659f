"""Fault rules as a person sends them, checked: every problem reported at once, each at its
JSON pointer into what was sent, with a detail that says what to fix."""

from __future__ import annotations

import re
from collections.abc import Mapping

from hamr.domain.errors import ValidationFailed, Violation
from hamr.domain.rules import canonical_datacenter, is_uuid
from hamr.emulator.faults.checks import finite, listed, positive_int, refuse_unknown, shown
from hamr.emulator.faults.effect_parsing import effects_in
from hamr.emulator.faults.model import (
    DOWN,
    EFFECT_FIELDS,
    RULE_FIELDS,
    STEP_FIELDS,
    ConnectionFault,
    FaultRule,
    Step,
)

_METHOD = re.compile(r"^[A-Za-z]+$")


def parse_rule(data: object, rule_id: str) -> FaultRule:
    """The rule `data` describes, or ValidationFailed naming every problem in it at once, each
    at its JSON pointer into `data`."""
    if not isinstance(data, Mapping):
        raise ValidationFailed(
            [
                Violation(
                    "",
                    f'A fault rule must be a JSON object such as {{"status": 503}}; '
                    f"got {shown(data)}.",
                )
            ]
        )
    problems: list[Violation] = []
    refuse_unknown(
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
                f"got {listed(given)}.",
            )
        )
    effects = effects_in(data, "", problems, in_sequence=False)
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
    probability = finite(data.get("probability", 1))
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
        Violation("/method", f'method must be an HTTP method such as "GET"; got {shown(value)}.')
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
            f'"/api/v2/hamr/*"; got {shown(value)}.',
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
            f'"550e8400-e29b-41d4-a716-446655440000"; got {shown(value)}.',
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
            f'datacenter must name a datacenter such as "eu1"; got {shown(value)}.',
        )
    )
    return None


def _probability(data: Mapping[object, object], problems: list[Violation]) -> float:
    if "probability" not in data:
        return 1
    value = finite(data["probability"])
    if value is not None and 0 <= value <= 1:
        return value
    problems.append(
        Violation(
            "/probability",
            "probability must be a number from 0 (never fire) to 1 (always fire); "
            f"got {shown(data['probability'])}.",
        )
    )
    return 1


def _times(data: Mapping[object, object], problems: list[Violation]) -> int | None:
    if "times" not in data:
        return None
    value = positive_int(data["times"])
    if value is None:
        problems.append(
            Violation(
                "/times",
                "times must be a whole number of firings, 1 or more (leave it out for no "
                f"limit); got {shown(data['times'])}.",
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
                f'{{"pass": true}}]; got {shown(value)}.',
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
                    f'or pass, such as {{"status": 503}}; got {shown(item)}.',
                )
            )
            continue
        refuse_unknown(
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
                    f"got {listed(given)}.",
                )
            )
        found = effects_in(item, at, problems, in_sequence=True)
        if len(found) == 1 and found[0] is not None:
            steps.append(found[0])
    return tuple(steps) if len(problems) == start else None
