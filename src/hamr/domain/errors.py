"""Domain errors. Each carries what a JSON:API error needs: status, title, detail and source."""

from __future__ import annotations

from dataclasses import dataclass


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


class NotFound(HamrError):
    status = 404
    title = "Not Found"


class Unavailable(HamrError):
    """Storage cannot be reached; nothing was changed, and the same request may succeed later."""

    status = 503
    title = "Service Unavailable"
    retry_after_seconds = 1


class WriteConflict(Unavailable):
    """Concurrent writers collided (a deadlock or serialization failure); the write was rolled
    back whole and is safe to run again."""


class InvalidInput(HamrError):
    """An operator's input (CLI or settings) that cannot be accepted."""

    status = 400
    title = "Bad Request"
