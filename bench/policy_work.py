"""The lifecycle policy's own work per POST, timed in-process (timeit, best of several runs),
for bench/policy.py: what `warn` does that `off` does not, in microseconds.

Per POST, every policy judges the move (`judge`); `warn` finds the rule a disallowed move
breaks, and for such a move also writes a log line (hamr's JSON formatter) and the
X-Hamr-Warning header text. The GET path does none of it: the policy is judged only inside a
write. Set beside the server CPU a POST costs (bench/policy.py's `off` lane), this resolves
what server-to-server noise cannot."""

from __future__ import annotations

import io
import logging
import timeit
from collections.abc import Callable

from hamr.api.routes import header_text
from hamr.domain.lifecycle import judge
from hamr.domain.model import HamrStatus, Policy
from hamr.server.logs import JsonFormatter

REPEATS = 7
NUMBER = 20_000


def best_us(call: Callable[[], object], number: int = NUMBER, repeats: int = REPEATS) -> float:
    """The fastest of `repeats` runs of `number` calls, per call, in microseconds."""
    return min(timeit.repeat(call, number=number, repeat=repeats)) / number * 1e6


def measure(number: int = NUMBER, repeats: int = REPEATS) -> dict[str, float]:
    """Microseconds per POST: `off`'s judging, and what `warn` adds for an allowed move and
    for a warned one; each the best of `repeats` runs of `number` calls."""
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(JsonFormatter())
    logger = logging.Logger("hamr.service.bench", logging.INFO)
    logger.addHandler(handler)
    passive, active = HamrStatus.PASSIVE, HamrStatus.ACTIVE
    rule = judge(passive, active, Policy.WARN).rule or ""

    def warned() -> None:
        move = judge(passive, active, Policy.WARN)
        logger.warning(
            "move outside the lifecycle stored",
            extra={"org": "o" * 36, "connection": "c" * 36, "rule": move.rule},
        )
        header_text(rule)
        sink.seek(0)
        sink.truncate()

    def best(call: Callable[[], object]) -> float:
        return best_us(call, number, repeats)

    off = best(lambda: judge(passive, passive, Policy.OFF))
    return {
        "off": off,
        "warn_allowed": best(lambda: judge(passive, passive, Policy.WARN)) - off,
        "warn_warned": best(warned) - off,
    }
