"""Domain errors: what went wrong, and where, in the domain's words. How each is answered, and
which request or command fixes it, is for the edge to say: api/errors.py, the CLI."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from hamr.domain.model import Condition


@dataclass(frozen=True, slots=True)
class Violation:
    """One thing wrong with a request: where (a JSON pointer, "" for the whole document)
    and what to do about it."""

    pointer: str | None
    detail: str


class Subject(enum.StrEnum):
    """What a request carries besides its document, which an error may be about."""

    API_KEY = "API key"
    APPLICATION_KEY = "application key"
    TOKEN = "token"  # noqa: S105 (a name, not a secret)
    IDEMPOTENCY_KEY = "idempotency key"
    OVERRIDE = "override reason"


class HamrError(Exception):
    """Base of every error a caller can be shown: `detail` says what went wrong; `pointer`
    where in the request's document, or `about` which other part of the request."""

    def __init__(self, detail: str, *, pointer: str | None = None, about: Subject | None = None):
        super().__init__(detail)
        self.detail = detail
        self.pointer = pointer
        self.about = about

    def violations(self) -> list[Violation]:
        """The individual problems; most errors have exactly one."""
        return [Violation(self.pointer, self.detail)]


class ValidationFailed(HamrError):
    """A request body broke one or more rules; all of them are reported at once."""

    def __init__(self, violations: list[Violation]):
        super().__init__("; ".join(v.detail for v in violations))
        self._violations = violations

    def violations(self) -> list[Violation]:
        return list(self._violations)


class Forbidden(HamrError):
    """The caller may not do this: its credentials prove nobody, or not enough."""


class Conflict(HamrError):
    """The request contradicts what is stored (an organization already paired elsewhere)."""


class PreconditionFailed(HamrError):
    """A conditional write whose condition does not hold of the stored connection, checked in
    the write's transaction: nothing was stored. `condition` says which failed; `current` is
    the connection's version now (None: the caller has no connection)."""

    def __init__(self, condition: Condition, current: str | None):
        super().__init__(_unmet(condition, current))
        self.condition = condition
        self.current = current


def _unmet(condition: Condition, current: str | None) -> str:
    if condition is Condition.NONE_MATCH:
        return f"The connection exists (version {current}); nothing was stored."
    if current is None:
        return "There is no connection to match yet; nothing was stored."
    return f"The connection is now at version {current}; nothing was stored."


class KeyReused(HamrError):
    """An idempotency key sent again with a different request: not a retry of the first."""

    def __init__(self, detail: str):
        super().__init__(detail, about=Subject.IDEMPOTENCY_KEY)


class RequestInFlight(Conflict):
    """The first request with this idempotency key has no answer yet."""

    def __init__(self, detail: str):
        super().__init__(detail, about=Subject.IDEMPOTENCY_KEY)


class NotFound(HamrError):
    """What the request names does not exist."""


class NoConnection(NotFound):
    """The organization has no connection to read yet."""

    def __init__(self, org_uuid: str):
        super().__init__(f"Organization {org_uuid} has no HAMR connection yet.")
        self.org_uuid = org_uuid


class Unavailable(HamrError):
    """Storage cannot be reached; nothing was changed, and the same request may succeed later."""


class OutcomeUnknown(Unavailable):
    """The write reached COMMIT and storage stopped answering (or cut the copy to a standby
    short) before confirming it: it may or may not be stored, and a retry under the same
    idempotency key stores it at most once."""


class StorageFull(HamrError):
    """The database's disk is full: the write was rolled back whole, and may succeed once an
    operator has made room."""


class WriteConflict(Unavailable):
    """Concurrent writers collided (a deadlock or serialization failure); the write was rolled
    back whole and is safe to run again."""


class InvalidInput(HamrError):
    """An operator's input (CLI or settings), or a part of a request, that cannot be
    accepted."""
