"""The lifecycle table and the policy's verdicts, every branch."""

from __future__ import annotations

import itertools

import pytest

from hamr.domain.lifecycle import (
    NEXT,
    MoveRefused,
    Policy,
    Verdict,
    allowed_next,
    broken_rule,
    judge,
    judge_or_refuse,
)
from hamr.domain.model import HamrStatus as S

# The lifecycle, written out once more by hand: the table must say exactly this.
MOVES = {
    (None, S.ONBOARDING),
    (None, S.PASSIVE),
    (S.UNSPECIFIED, S.ONBOARDING),
    (S.UNSPECIFIED, S.PASSIVE),
    (S.ONBOARDING, S.PASSIVE),
    (S.PASSIVE, S.FAILOVER),
    (S.FAILOVER, S.ACTIVE),
    (S.FAILOVER, S.PASSIVE),
    (S.ACTIVE, S.RECOVERY),
    (S.RECOVERY, S.PASSIVE),
    (S.RECOVERY, S.ACTIVE),
}
FROM = [None, *S]


def test_the_table_is_the_lifecycle() -> None:
    assert {(current, asked) for current, nexts in NEXT.items() for asked in nexts} == MOVES
    assert set(NEXT) == set(FROM)


@pytest.mark.parametrize(("current", "asked"), list(itertools.product(FROM, S)))
@pytest.mark.parametrize("policy", list(Policy))
def test_every_move_under_every_policy(current: S | None, asked: S, policy: Policy) -> None:
    lifecycle_move = (current, asked) in MOVES or current == asked
    if policy is Policy.ENFORCE and asked is S.UNSPECIFIED:
        lifecycle_move = False  # never a move target under enforce, not even 0 -> 0
    move = judge(current, asked, policy)
    assert (move.current, move.asked) == (current, asked)
    if lifecycle_move or policy is Policy.OFF:
        assert (move.verdict, move.rule, move.stored) == (Verdict.ALLOWED, None, True)
    elif policy is Policy.WARN:
        assert (move.verdict, move.stored) == (Verdict.WARNED, True)
    else:
        assert (move.verdict, move.stored) == (Verdict.REFUSED, False)
    assert (broken_rule(current, asked, policy) is None) is lifecycle_move


@pytest.mark.parametrize("policy", [Policy.WARN, Policy.ENFORCE])
def test_an_override_stores_a_broken_rule_and_names_it(policy: Policy) -> None:
    move = judge(S.PASSIVE, S.ACTIVE, policy, override=True)
    assert (move.verdict, move.stored) == (Verdict.OVERRIDDEN, True)
    assert move.rule is not None
    allowed = judge(S.PASSIVE, S.FAILOVER, policy, override=True)
    assert allowed.verdict is Verdict.ALLOWED  # nothing to override


def test_the_rule_names_the_current_the_asked_and_the_allowed_next() -> None:
    rule = broken_rule(S.PASSIVE, S.ACTIVE, Policy.ENFORCE)
    assert rule == (
        "2 PASSIVE -> 4 ACTIVE is not a move of the HAMR lifecycle; "
        "from 2 PASSIVE the next status may be: 2 PASSIVE, 3 FAILOVER"
    )
    first = broken_rule(None, S.ACTIVE, Policy.WARN)
    assert first is not None
    assert first.startswith("no connection yet -> 4 ACTIVE")


def test_allowed_next_includes_staying_and_drops_unspecified_under_enforce() -> None:
    assert allowed_next(S.FAILOVER) == (S.PASSIVE, S.FAILOVER, S.ACTIVE)
    assert allowed_next(None) == (S.ONBOARDING, S.PASSIVE)
    assert allowed_next(S.UNSPECIFIED, Policy.WARN) == (S.UNSPECIFIED, S.ONBOARDING, S.PASSIVE)
    assert allowed_next(S.UNSPECIFIED, Policy.ENFORCE) == (S.ONBOARDING, S.PASSIVE)


def test_judge_or_refuse_raises_for_a_refused_move_naming_the_pointer() -> None:
    with pytest.raises(MoveRefused) as raised:
        judge_or_refuse(S.PASSIVE, S.RECOVERY, Policy.ENFORCE, "/data/attributes/HamrStatus")
    assert raised.value.pointer == "/data/attributes/HamrStatus"
    assert raised.value.move.verdict is Verdict.REFUSED
    assert str(raised.value).endswith("Nothing was stored.")
    overridden = judge_or_refuse(S.PASSIVE, S.RECOVERY, Policy.ENFORCE, "/p", override="fire")
    assert overridden.verdict is Verdict.OVERRIDDEN
    assert judge_or_refuse(S.PASSIVE, S.RECOVERY, Policy.WARN, "/p").verdict is Verdict.WARNED
