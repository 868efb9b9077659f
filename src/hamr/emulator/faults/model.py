"""Fault injection as data: the rules a person sets to make the emulator misbehave on purpose
(throttle, fail, slow down, drop connections, take a datacenter down), so that clients' retry and
failover paths can be tested. Checking what a person sent is parsing.py's job (with
effect_parsing.py), choosing the rule that answers a request rules.py's; acting on the answer
(sleeping, resetting a socket) injection.py's. Nothing here waits or touches a socket.

A rule, as sent: optional matches `method`, `path` (exact, or a prefix ending in "*"), `org`,
`datacenter`; `probability` (default 1); `times` (default unlimited); and exactly one of an
effect (`status`, `latency` or `fault`) or a `sequence` of effects answering successive
requests in turn (an item `{"pass": true}` lets its one request through)."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TypeAlias

from hamr.domain.rules import canonical_datacenter

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
