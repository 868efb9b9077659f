"""The fault rules in force: kept in order, the first that matches a request, is not spent
and fires its draw answers it; each counts how often it fired. Safe to share between threads."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import NamedTuple

from hamr.domain.errors import ValidationFailed, Violation
from hamr.domain.rules import canonical_datacenter
from hamr.emulator.faults.model import Effect, FaultRule, PassThrough, RequestFacts, rule_document
from hamr.emulator.faults.parsing import parse_rule


class Firing(NamedTuple):
    """A rule's answer to one request: which rule, and what it does."""

    rule: str
    effect: Effect


class FaultRules:
    """The rules in force, in the order they were added; the first that matches, is not
    spent and fires its draw answers a request. Safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Replaced whole, never changed in place, so `pick` may look at it without the lock.
        self._rules: tuple[FaultRule, ...] = ()
        self._fired: dict[str, int] = {}
        self._last_number = 0
        self._listeners: list[Callable[[], None]] = []

    @property
    def in_force(self) -> bool:
        """Whether there is any rule at all (read on every request: no lock)."""
        return bool(self._rules)

    @property
    def match_on_caller(self) -> bool:
        """Whether some rule matches on the org or the datacenter, so that the caller has to
        be known to choose."""
        return any(rule.org is not None or rule.datacenter is not None for rule in self._rules)

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call `listener` after every change to the rules (a site going down or back up)."""
        self._listeners.append(listener)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()

    def add(self, data: object) -> FaultRule:
        """Check a rule as sent and put it last; raises ValidationFailed listing every problem.
        Ids run rule-1, rule-2, ... and are never reused, not even after `clear`."""
        with self._lock:
            rule = parse_rule(data, f"rule-{self._last_number + 1}")
            self._last_number += 1
            self._rules = (*self._rules, rule)
            self._fired[rule.id] = 0
        self._changed()
        return rule

    def add_all(self, items: list[object]) -> list[FaultRule]:
        """Add a list of rules, all or none: every problem of every rule is reported at once,
        at pointers into the list (`/2/status`), before any is added."""
        problems: list[Violation] = []
        for index, item in enumerate(items):
            try:
                parse_rule(item, "checked")
            except ValidationFailed as failed:
                problems += [
                    Violation(f"/{index}{v.pointer or ''}", v.detail) for v in failed.violations()
                ]
        if problems:
            raise ValidationFailed(problems)
        return [self.add(item) for item in items]

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
        self._changed()
        return True

    def clear(self) -> int:
        """Drop every rule; how many there were."""
        with self._lock:
            count = len(self._rules)
            self._rules = ()
            self._fired.clear()
        self._changed()
        return count

    def pick(self, facts: RequestFacts, rng: random.Random) -> Firing | None:
        """The rule and effect for this request, or None to serve it normally. The first rule that
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
                return None if isinstance(step, PassThrough) else Firing(rule.id, step)
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
