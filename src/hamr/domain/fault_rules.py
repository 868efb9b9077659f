"""The fault rules in force: kept in order, the first that matches a request, is not spent
and fires its draw answers it; each counts how often it fired. Safe to share between threads."""

from __future__ import annotations

import random
import threading

from hamr.domain.fault_parsing import parse_rule
from hamr.domain.faults import Effect, FaultRule, PassThrough, RequestFacts, rule_document
from hamr.domain.rules import canonical_datacenter


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
