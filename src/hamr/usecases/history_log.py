"""History use cases: an organization's whole history, the API's pages of it, and verifying
the hash chains and their ends against the heads kept for them.

Pages and the chain walk read in short units of work (each page, each chunk of the walk)
rather than one long one: on SQLite every unit of work holds the database's write lock.
"""

from __future__ import annotations

from collections.abc import Callable

from hamr.domain.chain import (
    ChainBreak,
    ChainHead,
    ChainReport,
    ChainWalk,
    diagnose,
    end_break,
)
from hamr.domain.model import HistoryEntry, HistoryPage, HistoryQuery
from hamr.domain.ports import UnitOfWork
from hamr.usecases.accounts import require_org

# Rows per unit of work in the chain walk.
CHUNK = 2_000


def entries(unit_of_work: Callable[[], UnitOfWork], org_uuid: str) -> list[HistoryEntry]:
    """Every change to the connections this org was in, and what it wrote, in order."""
    with unit_of_work() as uow:
        org = require_org(uow.repository, org_uuid)
        link = uow.repository.links_of([org.uuid]).get(org.uuid)
        return uow.repository.list_history(org.uuid, link.id if link else None)


def page(unit_of_work: Callable[[], UnitOfWork], org_uuid: str, query: HistoryQuery) -> HistoryPage:
    """A page of what `entries` returns, newest first."""
    with unit_of_work() as uow:
        org = require_org(uow.repository, org_uuid)
        link = uow.repository.links_of([org.uuid]).get(org.uuid)
        rows = uow.repository.history_page(
            org.uuid, link.id if link else None, query, query.size + 1
        )
    shown = tuple(rows[: query.size])
    return HistoryPage(shown, shown[-1].id if len(rows) > query.size else None)


def verify(unit_of_work: Callable[[], UnitOfWork], org_uuid: str | None = None) -> ChainReport:
    """Recompute every chain (or those of the connections the org's history covers), and stop
    at the first row that does not follow from the one before it, or the first chain whose
    end is not the head kept for it (rows removed from the end, or added past it)."""
    connection_ids: list[str] | None = None
    if org_uuid is not None:
        with unit_of_work() as uow:
            org = require_org(uow.repository, org_uuid)
            link = uow.repository.links_of([org.uuid]).get(org.uuid)
            connection_ids = uow.repository.history_connections(org.uuid, link.id if link else None)
    walk = ChainWalk()
    after: tuple[str, int] | None = None
    head: ChainHead | None = None  # kept for the chain being walked
    while True:
        with unit_of_work() as uow:
            rows = uow.repository.history_in_chain_order(connection_ids, after, CHUNK)
            heads = uow.repository.chain_heads({r.connection_id or "" for r in rows})
        for entry in rows:
            ended = walk.previous
            if ended is not None and ended.connection_id != entry.connection_id:
                broken = _end(ended, head)  # the chain before this row's ends here
                if broken is not None:
                    return ChainReport(walk.rows, walk.connections, broken)
            if not walk.follows(entry):
                broken = _diagnose(unit_of_work, entry, walk.previous)
                return ChainReport(walk.rows, walk.connections, broken)
            head = heads.get(entry.connection_id or "")
        if len(rows) < CHUNK:
            break
        last = rows[-1]
        assert last.connection_id is not None
        after = (last.connection_id, last.id)
    broken = None if walk.previous is None else _end(walk.previous, head)
    if broken is None:
        with unit_of_work() as uow:
            emptied = uow.repository.first_head_without_rows(connection_ids)
        if emptied is not None:
            broken = end_break(emptied.connection_id, None, emptied)
    return ChainReport(walk.rows, walk.connections, broken)


def _end(last: HistoryEntry, head: ChainHead | None) -> ChainBreak | None:
    assert last.connection_id is not None
    return end_break(last.connection_id, last, head)


def _diagnose(
    unit_of_work: Callable[[], UnitOfWork], broken: HistoryEntry, previous: HistoryEntry | None
) -> ChainBreak:
    assert broken.connection_id is not None
    chain: list[HistoryEntry] = []
    with unit_of_work() as uow:
        while True:
            after = (broken.connection_id, chain[-1].id) if chain else None
            rows = uow.repository.history_in_chain_order([broken.connection_id], after, CHUNK)
            chain.extend(rows)
            if len(rows) < CHUNK:
                break
        absent = uow.repository.absent_history_ids(previous.id if previous else 0, broken.id)
    return diagnose(broken, previous, chain, absent)
