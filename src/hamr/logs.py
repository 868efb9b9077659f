"""Log set-up: one line per record, with the record's structured extras appended as JSON."""

from __future__ import annotations

import json
import logging

# Attributes every record has, plus uvicorn's terminal-only duplicate of its message.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


class StructuredFormatter(logging.Formatter):
    """`time level logger message {"extra": "fields"}`; tracebacks follow on their own lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        if not extras:
            return line
        head, _, tail = line.partition("\n")
        fields = json.dumps(extras, default=str, separators=(",", ":"))
        return f"{head} {fields}" + (f"\n{tail}" if tail else "")


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(StructuredFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
