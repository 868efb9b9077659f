"""The request log: one line per request, in the same JSON (or text) as every other log line,
written in batches.

Going through `logging` cost a GET more than the rest of its handling (a record, a formatter and
a flushed write per request), so request lines skip it: a request leaves a tuple of its facts,
and the batch is formatted and written under the log handler's lock `FLUSH_SECONDS` after its
first line (telemetry.py's `Batches`) and on shutdown. Encoded in a batch, a line costs a third
of what the same work cost between two requests' network I/O, with cold caches. Whether lines
are written at all still follows the `hamr.access` logger's level.
"""

from __future__ import annotations

import logging
import re
import time
from json.encoder import encode_basestring as _json_string
from typing import TextIO

from hamr.domain.keys import TOKEN_PREFIX
from hamr.server.logs import Rfc3339Clock

LOGGER = "hamr.access"
_HEAD = f'"level":"info","logger":"{LOGGER}","message":"request"'
# Anything in a path that looks like a key or token (pasted into a URL by mistake) is masked.
_SECRET_LIKE = re.compile(rf"[0-9a-fA-F]{{32,}}|{re.escape(TOKEN_PREFIX)}[\w-]+")


# When, request id, org, method, path, status, duration in seconds.
_Facts = tuple[float, str, str | None, str, str, int, float]
# Method and path written out are kept for this many distinct pairs (a scan of unknown paths
# must not grow memory): the API's few routes are written out once.
_KEPT_ROUTES = 256


class AccessLog:
    def __init__(self, handler: logging.StreamHandler[TextIO], log_format: str):
        self._handler = handler
        self._text = log_format == "text"
        self._time = Rfc3339Clock()
        self._pending: list[_Facts] = []
        self._routes: dict[tuple[str, str], str] = {}

    @classmethod
    def from_logging(cls, log_format: str) -> AccessLog | None:
        """The access log the logging set-up asks for: None if `hamr.access` is below its
        level or no stream handler is configured (an embedding application's own logging)."""
        if not logging.getLogger(LOGGER).isEnabledFor(logging.INFO):
            return None
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                return cls(handler, log_format)
        return None

    def request(
        self,
        request_id: str,
        org: str | None,
        method: str,
        path: str,
        status: int,
        seconds: float,
    ) -> None:
        self._pending.append((time.time(), request_id, org, method, path, status, seconds))

    def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        chunk = "".join(map(self._line, pending))
        self._handler.acquire()  # the lock other log lines are written under
        try:
            self._handler.stream.write(chunk)
            self._handler.stream.flush()
        finally:
            self._handler.release()

    def _line(self, facts: _Facts) -> str:
        """One line, written out directly: the fields are fixed, and every string among them
        goes through the json module's C string encoder."""
        when, request_id, org, method, path, status, seconds = facts
        route = self._routes.get((method, path))
        if route is None:
            route = (
                f'"method":{_json_string(method)},'
                f'"path":{_json_string(_SECRET_LIKE.sub("***", path))},'
            )
            if len(self._routes) < _KEPT_ROUTES:
                self._routes[method, path] = route
        fields = (
            f'"request_id":{_json_string(request_id)},'
            f'"org":{"null" if org is None else _json_string(org)},'
            f'{route}"status":{status},"duration_ms":{round(seconds * 1000, 3)}'
        )
        if self._text:
            return f"{self._time(when)} INFO {LOGGER} request {{{fields}}}\n"
        return f'{{"time":"{self._time(when)}",{_HEAD},{fields}}}\n'
