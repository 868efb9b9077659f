"""Fault injection as data: the rules a person sets to make the emulator misbehave on purpose
(throttle, fail, slow down, drop connections, take a datacenter down), so that clients' retry and
failover paths can be tested, and which rule answers a given request. Acting on the answer
(sleeping, resetting a socket) is the middleware's job; nothing here waits or touches a socket.

A rule, as sent: optional matches `method`, `path` (exact, or a prefix ending in "*"), `org`,
`datacenter`; `probability` (default 1); `times` (default unlimited); and exactly one of an
effect (`status`, `latency` or `fault`) or a `sequence` of effects answering successive
requests in turn (an item `{"pass": true}` lets its one request through)."""

from __future__ import annotations

import json
import math
import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeAlias

from hamr.domain.errors import ValidationFailed, Violation
from hamr.domain.rules import canonical_datacenter, is_uuid

STATUSES = (429, 500, 503)
# Only these statuses tell a client when to come back.
RETRY_AFTER_STATUSES = (429, 503)
CONNECTION_RESET = "connection_reset"
EMPTY_RESPONSE = "empty_response"
MALFORMED_BODY = "malformed_body"
DOWN = "down"
FAULT_KINDS = (CONNECTION_RESET, EMPTY_RESPONSE, MALFORMED_BODY, DOWN)

MATCH_FIELDS = ("method", "path", "org", "datacenter")
EFFECT_FIELDS = ("status", "latency", "fault")
RULE_FIELDS = (*MATCH_FIELDS, "probability", "times", *EFFECT_FIELDS, "retry_after", "sequence")
STEP_FIELDS = (*EFFECT_FIELDS, "retry_after", "pass")
DELAY_FIELDS = ("fixed_ms", "uniform", "lognormal")
LATENCY_FIELDS = (*DELAY_FIELDS, "max_ms")

_METHOD = re.compile(r"^[A-Za-z]+$")
_SHOWN_LENGTH = 60


@dataclass(frozen=True, slots=True)
class StatusEffect:
    """Answer with this error status instead of the real response (429 throttles, 5xx fail)."""

    status: int
    retry_after: int | None = None

    def document(self) -> dict[str, object]:
        found: dict[str, object] = {"status": self.status}
        if self.retry_after is not None:
            found["retry_after"] = self.retry_after
        return found


@dataclass(frozen=True, slots=True)
class FixedDelay:
    """The same delay every time: for tests that assert on timeouts."""

    ms: float

    def draw(self, rng: random.Random) -> float:
        return float(self.ms)

    def document(self) -> dict[str, object]:
        return {"fixed_ms": self.ms}


@dataclass(frozen=True, slots=True)
class UniformDelay:
    """Any delay between the bounds, equally likely: jitter."""

    lower_ms: float
    upper_ms: float

    def draw(self, rng: random.Random) -> float:
        return rng.uniform(self.lower_ms, self.upper_ms)

    def document(self) -> dict[str, object]:
        return {"uniform": {"lower_ms": self.lower_ms, "upper_ms": self.upper_ms}}


@dataclass(frozen=True, slots=True)
class LognormalDelay:
    """Delays around a median with a long tail, as real network latency has."""

    median_ms: float
    sigma: float

    def draw(self, rng: random.Random) -> float:
        try:
            return self.median_ms * math.exp(self.sigma * rng.gauss(0.0, 1.0))
        except OverflowError:  # a tail beyond any float: no answer, ever
            return math.inf

    def document(self) -> dict[str, object]:
        return {"lognormal": {"median_ms": self.median_ms, "sigma": self.sigma}}


Delay: TypeAlias = FixedDelay | UniformDelay | LognormalDelay


@dataclass(frozen=True, slots=True)
class LatencyEffect:
    """Answer normally, but only after a delay drawn from `delay`, never above `max_ms`."""

    delay: Delay
    max_ms: float | None = None

    def delay_ms(self, rng: random.Random) -> float:
        """How long to hold this one request, in milliseconds."""
        drawn = self.delay.draw(rng)
        return drawn if self.max_ms is None else min(drawn, float(self.max_ms))

    def document(self) -> dict[str, object]:
        latency = self.delay.document()
        if self.max_ms is not None:
            latency["max_ms"] = self.max_ms
        return {"latency": latency}


@dataclass(frozen=True, slots=True)
class ConnectionFault:
    """Break the transport rather than answer: reset the connection, close it without a
    response, send a body that is not JSON, or (`down`) refuse connections to a datacenter."""

    kind: str

    def document(self) -> dict[str, object]:
        return {"fault": self.kind}


@dataclass(frozen=True, slots=True)
class PassThrough:
    """A sequence item that lets its one request through untouched."""

    def document(self) -> dict[str, object]:
        return {"pass": True}


PASS_THROUGH = PassThrough()

Effect: TypeAlias = StatusEffect | LatencyEffect | ConnectionFault
# What one firing of a rule does: an effect, or (in a sequence) letting the request through.
Step: TypeAlias = Effect | PassThrough


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What a rule may match a request on, as the middleware sees it (None: not known)."""

    method: str
    path: str
    org: str | None = None
    datacenter: str | None = None


@dataclass(frozen=True, slots=True)
class FaultRule:
    """One rule, checked. Matches that are None match anything; `effects` holds the one
    effect, or the sequence's items in order. How often it has fired is kept by FaultRules."""

    id: str
    method: str | None
    path: str | None
    org: str | None
    datacenter: str | None
    probability: float
    times: int | None
    effects: tuple[Step, ...]
    is_sequence: bool

    def matches(self, facts: RequestFacts) -> bool:
        """Whether every match the rule sets holds of the request: method in any case, path
        exactly or by its "*" prefix, org in any case, datacenter in either spelling."""
        if self.method is not None and facts.method.upper() != self.method:
            return False
        if self.path is not None and not _path_matches(self.path, facts.path):
            return False
        if self.org is not None and (facts.org is None or facts.org.lower() != self.org):
            return False
        return self.datacenter is None or (
            facts.datacenter is not None
            and canonical_datacenter(facts.datacenter) == self.datacenter
        )

    def spent(self, fired: int) -> bool:
        """Whether, having fired `fired` times, the rule is done: its `times` are used up or
        its sequence has run out. A spent rule matches nothing."""
        if self.times is not None and fired >= self.times:
            return True
        return self.is_sequence and fired >= len(self.effects)

    def fires(self, rng: random.Random) -> bool:
        """The probability draw; 1 always fires and 0 never, without drawing at all."""
        if self.probability >= 1:
            return True
        if self.probability <= 0:
            return False
        return rng.random() < self.probability

    def step(self, fired: int) -> Step:
        """What the rule does on its next firing, having fired `fired` times."""
        return self.effects[fired] if self.is_sequence else self.effects[0]

    @property
    def takes_datacenter_down(self) -> bool:
        return not self.is_sequence and self.effects[0] == ConnectionFault(DOWN)


def _path_matches(pattern: str, path: str) -> bool:
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    return path == pattern


def rule_document(rule: FaultRule, fired: int) -> dict[str, object]:
    """The rule as JSON, in the shape it was sent (defaults filled in, matches normalised),
    with its `id` and how many times it has `fired`; sent back, it makes the same rule."""
    found: dict[str, object] = {"id": rule.id}
    matches = (
        ("method", rule.method),
        ("path", rule.path),
        ("org", rule.org),
        ("datacenter", rule.datacenter),
    )
    found.update({name: value for name, value in matches if value is not None})
    found["probability"] = rule.probability
    if rule.times is not None:
        found["times"] = rule.times
    if rule.is_sequence:
        found["sequence"] = [step.document() for step in rule.effects]
    else:
        found.update(rule.effects[0].document())
    found["fired"] = fired
    return found


class FaultRules:
    """The rules in force, in the order they were added; the first that matches, is not
    spent and fires its draw answers a request. Safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Replaced whole, never changed in place, so `pick` may look at it without the lock.
        self._rules: tuple[FaultRule, ...] = ()
        self._fired: dict[str, int] = {}
        self._last_number = 0

    def add(self, data: object) -> FaultRule:
        """Check a rule as sent and put it last; raises ValidationFailed listing every problem.
        Ids run rule-1, rule-2, ... and are never reused, not even after `clear`."""
        with self._lock:
            rule = parse_rule(data, f"rule-{self._last_number + 1}")
            self._last_number += 1
            self._rules = (*self._rules, rule)
            self._fired[rule.id] = 0
            return rule

    def rules(self) -> list[dict[str, object]]:
        """Every rule's document, with its fired count, in order."""
        with self._lock:
            return [rule_document(rule, self._fired[rule.id]) for rule in self._rules]

    def remove(self, rule_id: str) -> bool:
        """Drop one rule; False when there is none with that id."""
        with self._lock:
            kept = tuple(rule for rule in self._rules if rule.id != rule_id)
            if len(kept) == len(self._rules):
                return False
            self._rules = kept
            del self._fired[rule_id]
            return True

    def clear(self) -> int:
        """Drop every rule; how many there were."""
        with self._lock:
            count = len(self._rules)
            self._rules = ()
            self._fired.clear()
            return count

    def pick(self, facts: RequestFacts, rng: random.Random) -> Effect | None:
        """The effect for this request, or None to serve it normally. The first rule that
        matches, is not spent and fires its draw counts one firing and decides (a sequence's
        pass item lets the request through, but is used up); a rule whose draw misses leaves
        the choice to the rules after it."""
        if not self._rules:  # the hot path: no rules, no lock
            return None
        with self._lock:
            for rule in self._rules:
                fired = self._fired[rule.id]
                if rule.spent(fired) or not rule.matches(facts) or not rule.fires(rng):
                    continue
                self._fired[rule.id] = fired + 1
                step = rule.step(fired)
                return None if isinstance(step, PassThrough) else step
        return None

    def datacenter_down(self, datacenter: str) -> bool:
        """Whether a rule that is not spent takes `datacenter` down, so that the site should
        refuse connections outright. No draw is made and nothing is counted."""
        if not self._rules:
            return False
        name = canonical_datacenter(datacenter)
        with self._lock:
            return any(
                rule.takes_datacenter_down
                and rule.datacenter == name
                and not rule.spent(self._fired[rule.id])
                for rule in self._rules
            )


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
