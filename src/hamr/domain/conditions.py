"""Conditional writes: whether the caller's connection is what a write expects it to be.

Checked inside the write's transaction, with the pair locked, so that of two writers holding
the same version exactly one gets through (the other sees the version the first made).
"""

from __future__ import annotations

from hamr.domain.errors import PreconditionFailed
from hamr.domain.model import Condition, Connection, Precondition


def check_precondition(precondition: Precondition | None, current: Connection | None) -> None:
    """Raise PreconditionFailed unless `current` (the caller's connection, None if it has
    none) meets `precondition`; the match condition is checked first, as RFC 9110 orders them."""
    if precondition is None:
        return
    version = precondition.version_of(current) if current is not None else None
    wanted = precondition.match
    if wanted is not None and (version is None or not wanted.include(version)):
        raise PreconditionFailed(Condition.MATCH, version)
    refused = precondition.none_match
    if refused is not None and version is not None and refused.include(version):
        raise PreconditionFailed(Condition.NONE_MATCH, version)
