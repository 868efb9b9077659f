"""Log set-up: one line per record, as JSON (for machines) or as text with the record's
structured extras appended as JSON (for people)."""

from __future__ import annotations

import datetime
import json
import logging

import pydantic_core

# Attributes every record has, plus uvicorn's terminal-only duplicate of its message.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


def _extras(record: logging.LogRecord) -> dict[str, object]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD}


class TextFormatter(logging.Formatter):
    """`time level logger message {"extra": "fields"}`; tracebacks follow on their own lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = _extras(record)
        if not extras:
            return line
        head, _, tail = line.partition("\n")
        fields = json.dumps(extras, default=str, separators=(",", ":"))
        return f"{head} {fields}" + (f"\n{tail}" if tail else "")


class Rfc3339Clock:
    """UTC timestamps with milliseconds, `2026-01-13T17:26:48.830Z`; the text up to the second
    is built once per second, since every request's log line needs one."""

    def __init__(self) -> None:
        self._second = -1
        self._second_text = ""

    def __call__(self, created: float) -> str:
        second = int(created)
        if second != self._second:
            self._second = second
            moment = datetime.datetime.fromtimestamp(second, datetime.UTC)
            self._second_text = moment.strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._second_text}.{int((created - second) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, RFC 3339), level, logger, message, the record's
    extras, and any traceback as one string."""

    def __init__(self) -> None:
        super().__init__()
        self._time = Rfc3339Clock()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": self._time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return pydantic_core.to_json(entry, fallback=str).decode()


def configure_logging(level: str, log_format: str = "json") -> None:
    """Root logging for a server process. The formats above use none of the caller, thread or
    process fields, so the logging HOWTO's "Optimization" switches turn their collection off:
    that halves the cost of the access line every request writes."""
    logging._srcfile = None  # no caller lookup, as the HOWTO shows
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
