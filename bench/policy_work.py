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
from hamr.logs import JsonFormatter

REPEATS = 7
NUMBER = 20_000


def best_us(call: Callable[[], object]) -> float:
    """The fastest of REPEATS runs of NUMBER calls, per call, in microseconds."""
    return min(timeit.repeat(call, number=NUMBER, repeat=REPEATS)) / NUMBER * 1e6


def measure() -> dict[str, float]:
    """Microseconds per POST: `off`'s judging, and what `warn` adds for an allowed move and
    for a warned one."""
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

    off = best_us(lambda: judge(passive, passive, Policy.OFF))
    return {
        "off": off,
        "warn_allowed": best_us(lambda: judge(passive, passive, Policy.WARN)) - off,
        "warn_warned": best_us(warned) - off,
    }
