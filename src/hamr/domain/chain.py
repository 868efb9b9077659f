"""The history hash chain: each row's `chain_hash` covers the previous row's of the same
connection and the row's own content, so that a row changed, removed or moved after it was
written breaks its connection's chain where that happened (`hamr history verify`).

This encoding is stored data: changing it breaks every chain already written.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hamr.domain.model import HistoryEntry

# What the first row of every connection's chain follows.
GENESIS = "0" * 64
# A row's content: every column but its id and its chain_hash.
CONTENT_FIELDS = (
    "org_uuid",
    "key_id",
    "connection_id",
    "modified_by",
    "recorded_at_us",
    "before",
    "after",
    "violation",
    "reason",
)


# Built once: json.dumps with options builds an encoder per call, a fifth of a write's hash.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
)


def content(row: Mapping[str, object]) -> bytes:
    """Canonical JSON of a row's content (sorted keys, no spaces, ASCII), the same whether the
    row is about to be inserted or was read back from either backend."""
    fields = {name: row[name] for name in CONTENT_FIELDS}
    return _CANONICAL.encode(fields).encode("ascii")


def next_hash(previous: str, row: Mapping[str, object]) -> str:
    """The chain_hash of a row that follows a row whose chain_hash is `previous`."""
    return hashlib.sha256(previous.encode("ascii") + b"\n" + content(row)).hexdigest()


def fields_of(entry: HistoryEntry) -> dict[str, object]:
    return {name: getattr(entry, name) for name in CONTENT_FIELDS}


@dataclass(frozen=True, slots=True)
class ChainHead:
    """A connection's newest history row, kept beside the history in the same transaction:
    a write finds what its row follows by key, whatever the chain's length, and verify
    notices rows removed from the chain's end, which no hash inside the chain can show. It
    also keeps since when the chain's newest rows have held its status (the pair's "status
    since"), which would otherwise take the whole chain to find."""

    connection_id: str
    row_id: int
    chain_hash: str
    hamr_status: int | None  # the row's `after` status; None for an unlink row
    status_since_us: int


def advance(head: ChainHead | None, row_id: int, row: Mapping[str, Any]) -> ChainHead:
    """The head once `row` (chain_hash set) follows `head`: the status's time is kept while
    the status stays, and starts at the row's time when it changes."""
    after = row["after"]
    now = None if after is None else int(after["hamr_status"])
    held = head is not None and now is not None and head.hamr_status == now
    since = head.status_since_us if held and head is not None else int(row["recorded_at_us"])
    return ChainHead(row["connection_id"], row_id, row["chain_hash"], now, since)


class BreakKind(enum.StrEnum):
    CHANGED = "content changed"
    MISSING = "row missing"
    OUT_OF_ORDER = "out of order"
    UNHASHED = "no chain_hash"
    END_MISSING = "end missing"
    PAST_HEAD = "past the head"
    HEAD_CHANGED = "head changed"


@dataclass(frozen=True, slots=True)
class ChainBreak:
    """The first row whose chain_hash does not follow from the row before it in its chain."""

    row_id: int
    connection_id: str
    kind: BreakKind
    previous_id: int | None  # the row before it in the chain as stored; None: it is first
    follows_id: int | None = None  # OUT_OF_ORDER: the row its hash follows (None: the start)
    absent_ids: int = 0  # MISSING: how many ids between the two are in no history row

    def describe(self) -> str:
        where = f"history row {self.row_id} (connection {self.connection_id})"
        before = _row(self.previous_id)
        if self.kind is BreakKind.UNHASHED:
            return f"{where}: no chain_hash; it was written outside hamr's chain"
        if self.kind is BreakKind.END_MISSING:
            ends = "has no rows left" if self.previous_id is None else f"ends at {before}"
            return (
                f"{where}: missing from the end of its chain, which {ends}; rows were removed "
                "from the chain's end (this row was its newest)"
            )
        if self.kind is BreakKind.PAST_HEAD:
            newest = "none is kept" if self.previous_id is None else f"{before} is"
            return (
                f"{where}: past the end of its chain ({newest} kept as its newest); it was "
                "added outside hamr"
            )
        if self.kind is BreakKind.HEAD_CHANGED:
            return (
                f"{where}: its chain_hash is not the one kept for the chain's newest row; the "
                "chain was rewritten up to it"
            )
        if self.kind is BreakKind.OUT_OF_ORDER:
            place = "it comes first" if self.previous_id is None else f"it comes after {before}"
            return (
                f"{where}: out of order; its chain_hash follows {_row(self.follows_id)}, but "
                f"{place}"
            )
        if self.kind is BreakKind.MISSING:
            return (
                f"{where}: row missing before it; it does not follow {before}, and "
                f"{self.absent_ids} id(s) between them are in no history row (or this row's "
                "content was changed)"
            )
        return (
            f"{where}: content changed; it no longer matches its chain_hash (no row is "
            f"missing between it and {before})"
        )


def _row(row_id: int | None) -> str:
    return "the start of the chain" if row_id is None else f"row {row_id}"


@dataclass(frozen=True, slots=True)
class ChainReport:
    rows: int
    connections: int
    broken: ChainBreak | None = None


class ChainWalk:
    """Checks rows fed in chain order (by connection, then id), one at a time, so that any
    number of rows can be verified in constant memory."""

    def __init__(self) -> None:
        self.rows = 0
        self.connections = 0
        self.previous: HistoryEntry | None = None
        self._connection: str | None = None
        self._hash = GENESIS

    def follows(self, entry: HistoryEntry) -> bool:
        """Whether this row's chain_hash follows from the row before it in its chain."""
        if self.connections == 0 or entry.connection_id != self._connection:
            self.connections += 1
            self._connection = entry.connection_id
            self.previous = None
            self._hash = GENESIS
        if entry.chain_hash is None or next_hash(self._hash, fields_of(entry)) != entry.chain_hash:
            return False
        self.rows += 1
        self.previous = entry
        self._hash = entry.chain_hash
        return True


def end_break(
    connection_id: str, last: HistoryEntry | None, head: ChainHead | None
) -> ChainBreak | None:
    """What is wrong with a chain's end (`last`: its last stored row, None if it has none)
    against the head kept for it, or None when they agree. Rows removed from the end leave a
    chain whose every hash still follows: only the head kept shows the end it had."""
    if last is None and head is None:
        return None
    if last is None or (head is not None and last.id < head.row_id):
        assert head is not None
        previous = None if last is None else last.id
        return ChainBreak(head.row_id, connection_id, BreakKind.END_MISSING, previous)
    if head is None or last.id > head.row_id:
        previous = None if head is None else head.row_id
        return ChainBreak(last.id, connection_id, BreakKind.PAST_HEAD, previous)
    if last.chain_hash != head.chain_hash:
        return ChainBreak(last.id, connection_id, BreakKind.HEAD_CHANGED, None)
    return None


def diagnose(
    broken: HistoryEntry,
    previous: HistoryEntry | None,
    chain: Sequence[HistoryEntry],
    absent_ids: int,
) -> ChainBreak:
    """Why `broken` does not follow `previous`: `chain` is its connection's every row, and
    `absent_ids` how many ids between the two are in no history row at all. A row whose hash
    follows another row of the chain (or the start) was moved; otherwise its content changed,
    or, when ids are absent before it, a row before it was deleted (a chain cannot tell that
    from a changed row: both leave a hash that follows nothing stored)."""
    connection = broken.connection_id or ""
    previous_id = previous.id if previous is not None else None
    if broken.chain_hash is None:
        return ChainBreak(broken.id, connection, BreakKind.UNHASHED, previous_id)
    fields = fields_of(broken)
    starts = [] if previous is None else [(None, GENESIS)]
    candidates = starts + [(o.id, o.chain_hash) for o in chain if o.id != broken.id]
    for other_id, other_hash in candidates:
        if other_hash is not None and next_hash(other_hash, fields) == broken.chain_hash:
            return ChainBreak(
                broken.id, connection, BreakKind.OUT_OF_ORDER, previous_id, follows_id=other_id
            )
    if absent_ids > 0:
        return ChainBreak(
            broken.id, connection, BreakKind.MISSING, previous_id, absent_ids=absent_ids
        )
    return ChainBreak(broken.id, connection, BreakKind.CHANGED, previous_id)
