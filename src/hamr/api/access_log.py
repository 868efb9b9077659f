"""The request log: one line per request, in the same JSON (or text) as every other log line,
written in batches.

Going through `logging` cost a GET more than the rest of its handling (a record, a formatter
and a flushed write per request), so request lines skip it: each is encoded with pydantic-core
into a buffer that is written, under the log handler's lock, every `FLUSH_SECONDS` and on
shutdown. Whether they are written at all still follows the `hamr.access` logger's level.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TextIO

import pydantic_core

from hamr.logs import Rfc3339Clock

LOGGER = "hamr.access"
FLUSH_SECONDS = 0.1


class AccessLog:
    def __init__(self, handler: logging.StreamHandler[TextIO], log_format: str):
        self._handler = handler
        self._text = log_format == "text"
        self._time = Rfc3339Clock()
        self._lines: list[str] = []

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
        duration_ms: float,
    ) -> None:
        fields = {
            "request_id": request_id,
            "org": org,
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
        }
        now = self._time(time.time())
        if self._text:
            extras = pydantic_core.to_json(fields).decode()
            self._lines.append(f"{now} INFO {LOGGER} request {extras}\n")
        else:
            head = {"time": now, "level": "info", "logger": LOGGER, "message": "request"}
            self._lines.append(pydantic_core.to_json({**head, **fields}).decode() + "\n")

    def flush(self) -> None:
        if not self._lines:
            return
        chunk = "".join(self._lines)
        self._lines.clear()
        self._handler.acquire()  # the lock other log lines are written under
        try:
            self._handler.stream.write(chunk)
            self._handler.stream.flush()
        finally:
            self._handler.release()

    async def flush_periodically(self) -> None:
        """Runs for the server's lifetime; the last lines are flushed by whoever cancels it."""
        while True:
            await asyncio.sleep(FLUSH_SECONDS)
            self.flush()
