"""Bounded writers through the three sites' hamr, and what a drill must find afterwards
(bench/drills.py, shared with bench/site_loss.py, which reports what these assert).

Every write names itself in `modified_by` (unique across the session), so that the history
says which acknowledged writes survived a drill, and how often each was stored."""

from __future__ import annotations

from typing import Any

from bench.drills import ANSWER_WITHIN, Readers, Writers, findings

__all__ = ["Readers", "Writers", "assert_safe"]


def assert_safe(lab: Any, writers: Writers, down: frozenset[str] = frozenset()) -> None:
    """What every drill must leave: each acknowledged write stored exactly once, no write
    stored that was answered as not stored, no 500 (a 503 with Retry-After instead), an answer
    from every site whose hamr runs, in time, and an intact history on every running node."""
    found = findings(lab, writers, down)
    summary = writers.summary()
    not_once = found.lost + found.doubled
    assert found.acknowledged, f"no write was acknowledged at all: {summary}"
    assert not_once == [], (
        f"acknowledged writes not stored exactly once: {not_once[:5]} ({summary})"
    )
    assert found.errors == [], f"server errors: {found.errors[:5]} ({summary})"
    assert found.without_retry_after == [], (
        f"503s without Retry-After: {found.without_retry_after[:5]}"
    )
    assert found.falsely_refused == [], (
        f"503s saying nothing was stored, stored: {found.falsely_refused}"
    )
    assert found.unanswered == [], (
        f"requests no running hamr answered: {found.unanswered[:5]} ({summary})"
    )
    assert found.slow == [], (
        f"answers after more than {ANSWER_WITHIN:g} s: {found.slow[:5]} ({summary})"
    )
    assert found.unknown == [], f"writes in the history no writer sent: {found.unknown[:5]}"
    assert found.verified, "no site's node runs to verify the history on"
    assert found.broken == {}, f"hamr history verify failed: {found.broken}"
