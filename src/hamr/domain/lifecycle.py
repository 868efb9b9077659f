"""The pair's lifecycle as data: which status may follow which, and what a policy does with a
move that breaks the rule. Failover is never automatic; these say which moves a person may make.

    none -> ONBOARDING | PASSIVE      ONBOARDING -> PASSIVE       PASSIVE -> FAILOVER
    FAILOVER -> ACTIVE (done) | PASSIVE (aborted)                 ACTIVE -> RECOVERY
    RECOVERY -> PASSIVE (done) | ACTIVE (aborted)                 any -> itself (metadata)
"""

from __future__ import annotations

from collections.abc import Mapping

from hamr.domain.errors import Conflict
from hamr.domain.model import HamrStatus, Move, Permission, Policy, Verdict

S = HamrStatus
# The moves the lifecycle allows from each status (None: the pair has no connection yet),
# besides staying where it is.
NEXT: Mapping[HamrStatus | None, tuple[HamrStatus, ...]] = {
    None: (S.ONBOARDING, S.PASSIVE),
    S.UNSPECIFIED: (S.ONBOARDING, S.PASSIVE),
    S.ONBOARDING: (S.PASSIVE,),
    S.PASSIVE: (S.FAILOVER,),
    S.FAILOVER: (S.ACTIVE, S.PASSIVE),
    S.ACTIVE: (S.RECOVERY,),
    S.RECOVERY: (S.PASSIVE, S.ACTIVE),
}


def allowed_next(
    current: HamrStatus | None, policy: Policy = Policy.WARN
) -> tuple[HamrStatus, ...]:
    """The statuses that may follow `current`, itself included (a metadata update); under
    `enforce`, never UNSPECIFIED."""
    staying = () if current is None else (current,)
    found = [*staying, *NEXT[current]]
    if policy is Policy.ENFORCE:
        found = [status for status in found if status is not S.UNSPECIFIED]
    return tuple(sorted(set(found)))


def broken_rule(current: HamrStatus | None, asked: HamrStatus, policy: Policy) -> str | None:
    """Which rule moving from `current` to `asked` breaks, in words, or None."""
    if asked in allowed_next(current, policy):
        return None
    names = ", ".join(f"{int(s)} {s.name}" for s in allowed_next(current, policy))
    since = "no connection yet" if current is None else f"{int(current)} {current.name}"
    return (
        f"{since} -> {int(asked)} {asked.name} is not a move of the HAMR lifecycle; "
        f"from {since} the next status may be: {names}"
    )


def judge(
    current: HamrStatus | None, asked: HamrStatus, policy: Policy, override: bool = False
) -> Move:
    """The verdict on one move: allowed, or (breaking a rule) warned, refused, or stored anyway
    by a break-glass override."""
    rule = broken_rule(current, asked, policy)
    if rule is None or policy is Policy.OFF:
        return Move(current, asked, Verdict.ALLOWED, None)
    if override:
        return Move(current, asked, Verdict.OVERRIDDEN, rule)
    if policy is Policy.WARN:
        return Move(current, asked, Verdict.WARNED, rule)
    return Move(current, asked, Verdict.REFUSED, rule)


def judge_or_refuse(
    current: HamrStatus | None,
    asked: HamrStatus,
    policy: Policy,
    pointer: str,
    override: str | None = None,
) -> Move:
    """The policy's verdict on a move (a break-glass override stores it anyway); raises
    MoveRefused, naming the status at `pointer`, for one it refuses."""
    move = judge(current, asked, policy, override=override is not None)
    if not move.stored:
        raise MoveRefused(move, pointer)
    return move


def needed_permission(policy: Policy, override: bool) -> Permission:
    """What a credential must carry to write a connection: write, and admin to override a
    policy that refuses (a warning needs no more than the write itself)."""
    return Permission.ADMIN if override and policy is Policy.ENFORCE else Permission.WRITE


class MoveRefused(Conflict):
    """A move the lifecycle does not allow, under `enforce`: nothing was stored."""

    def __init__(self, move: Move, pointer: str):
        super().__init__(f"{move.rule}. Nothing was stored.", pointer=pointer)
        self.move = move


# The pair operations, as data: from which status each starts, and the statuses it walks
# through from there. `hold` stops failover and recover at their first (liminal) step.
OPERATIONS: Mapping[str, Mapping[HamrStatus, tuple[HamrStatus, ...]]] = {
    "failover": {S.PASSIVE: (S.FAILOVER, S.ACTIVE)},
    "recover": {S.ACTIVE: (S.RECOVERY, S.PASSIVE)},
    "complete": {S.FAILOVER: (S.ACTIVE,), S.RECOVERY: (S.PASSIVE,)},
    "abort": {S.FAILOVER: (S.PASSIVE,), S.RECOVERY: (S.ACTIVE,)},
}
# How long a liminal status may last before a pair is reported stuck, by default.
STUCK_AFTER_SECONDS = 15 * 60
LIMINAL = (S.FAILOVER, S.RECOVERY)


class OperationRefused(Conflict):
    """A pair operation asked of a pair that is not where the operation starts: nothing was
    stored."""


def operation_steps(
    operation: str, current: HamrStatus | None, hold: bool
) -> tuple[HamrStatus, ...]:
    """The statuses `operation` walks the pair through from `current`; raises
    OperationRefused when it does not start there."""
    starts = OPERATIONS[operation]
    if current is None or current not in starts:
        where = "has no connection" if current is None else f"is {int(current)} {current.name}"
        from_ = " or ".join(f"{int(s)} {s.name}" for s in starts)
        raise OperationRefused(f"The pair {where}; {operation} starts from {from_}.")
    steps = starts[current]
    return steps[:1] if hold and operation in ("failover", "recover") else steps


def needed_for_operation(policy: Policy) -> Permission:
    """Pair operations need admin under `enforce`, write otherwise."""
    return Permission.ADMIN if policy is Policy.ENFORCE else Permission.WRITE
