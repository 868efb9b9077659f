"""Domain errors. Each carries what a JSON:API error needs: status, title, detail and source."""

from __future__ import annotations

from dataclasses import dataclass

from hamr.domain.model import Condition


@dataclass(frozen=True, slots=True)
class Violation:
    """One thing wrong with a request: where (a JSON pointer, "" for the whole document)
    and what to do about it."""

    pointer: str | None
    detail: str


class HamrError(Exception):
    """Base of every error a caller can be shown. Subclasses fix `status` and `title`."""

    status: int = 500
    title: str = "Internal Server Error"
    retry_after_seconds: int | None = None

    def __init__(self, detail: str, *, pointer: str | None = None, header: str | None = None):
        super().__init__(detail)
        self.detail = detail
        self.pointer = pointer
        self.header = header

    def violations(self) -> list[Violation]:
        """The individual problems; most errors have exactly one."""
        return [Violation(self.pointer, self.detail)]


class ValidationFailed(HamrError):
    """A request body broke one or more rules; all of them are reported at once."""

    status = 400
    title = "Bad Request"

    def __init__(self, violations: list[Violation]):
        super().__init__("; ".join(v.detail for v in violations))
        self._violations = violations

    def violations(self) -> list[Violation]:
        return list(self._violations)


class Forbidden(HamrError):
    status = 403
    title = "Forbidden"


class Conflict(HamrError):
    """The request contradicts what is stored (an organization already paired elsewhere)."""

    status = 409
    title = "Conflict"


class PreconditionFailed(HamrError):
    """A conditional write whose condition does not hold of the stored connection, checked in
    the write's transaction: nothing was stored. `condition` says which failed; `current` is
    the connection's version now (None: the caller has no connection)."""

    status = 412
    title = "Precondition Failed"

    def __init__(
        self,
        condition: Condition,
        current: str | None,
        detail: str | None = None,
        *,
        header: str | None = None,
    ):
        super().__init__(detail or _unmet(condition, current), header=header)
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

    status = 422
    title = "Unprocessable Content"


class RequestInFlight(Conflict):
    """The first request with this idempotency key has no answer yet."""


class NotFound(HamrError):
    status = 404
    title = "Not Found"


class Unavailable(HamrError):
    """Storage cannot be reached; nothing was changed, and the same request may succeed later."""

    status = 503
    title = "Service Unavailable"
    retry_after_seconds = 1


class StorageFull(HamrError):
    """The database's disk is full: the write was rolled back whole, and may succeed once an
    operator has made room."""

    status = 507
    title = "Insufficient Storage"
    retry_after_seconds = 30


class WriteConflict(Unavailable):
    """Concurrent writers collided (a deadlock or serialization failure); the write was rolled
    back whole and is safe to run again."""


class InvalidInput(HamrError):
    """An operator's input (CLI or settings) that cannot be accepted."""

    status = 400
    title = "Bad Request"
