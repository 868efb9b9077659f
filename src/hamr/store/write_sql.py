"""The write batch's statements, compiled once per dialect (see prepared.py): the orgs it
locks, the connections it reads and upserts, the history rows it appends and the chain heads
those rows follow and become (each read and written by key, so a write's cost does not grow
with its pair's history)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pydantic_core
import sqlalchemy as sa

from hamr.store.prepared import Prepared, PreparedIn
from hamr.store.tables import chain_heads, connection_members, connections, history, orgs
from hamr.store.upserts import insert_into

_ORG_COLUMNS = (orgs.c.uuid, orgs.c.name, orgs.c.datacenter)
# A member's connection with the creating org's record, in the column order
# repository.link_from_row reads (the member's uuid first). The read view compiles the same
# query for one org.
LINK_COLUMNS = (
    connections.c.id,
    connections.c.org_uuid,
    orgs.c.name,
    orgs.c.datacenter,
    connections.c.target_org_uuid,
    connections.c.target_org_name,
    connections.c.target_org_datacenter,
    connections.c.linked,
    connections.c.org_is_primary,
    connections.c.hamr_status,
    connections.c.modified_at_us,
    connections.c.modified_by,
)
LINKS_OF_MEMBER = (
    sa.select(connection_members.c.org_uuid, *LINK_COLUMNS)
    .join(connections, connections.c.id == connection_members.c.connection_id)
    .join(orgs, orgs.c.uuid == connections.c.org_uuid)
)
CONNECTION_FIELDS = [c.name for c in connections.c if c.name != "id"]
HISTORY_FIELDS = [c.name for c in history.c if c.name != "id"]
HEAD_FIELDS = [c.name for c in chain_heads.c]
_JSON_FIELDS = ("before", "after")


@dataclass(frozen=True)
class WriteStatements:
    orgs_in: PreparedIn
    locked_orgs_in: PreparedIn
    links_of_members: PreparedIn
    upsert_connections: Prepared
    add_members: Prepared
    heads_in: PreparedIn
    save_heads: Prepared
    add_history: Prepared
    last_history_id: Prepared

    @classmethod
    def compile(cls, dialect: sa.Dialect) -> WriteStatements:
        def orgs_in(uuids: sa.BindParameter[Any]) -> sa.Select[Any]:
            # One lock order for every writer: batches cannot deadlock.
            return sa.select(*_ORG_COLUMNS).where(orgs.c.uuid.in_(uuids)).order_by(orgs.c.uuid)

        add_history = history.insert().values({name: sa.bindparam(name) for name in HISTORY_FIELDS})
        if dialect.name != "sqlite":
            add_history = add_history.returning(history.c.id)
        return cls(
            orgs_in=PreparedIn(orgs_in, dialect),
            locked_orgs_in=PreparedIn(lambda uuids: orgs_in(uuids).with_for_update(), dialect),
            links_of_members=PreparedIn(
                lambda uuids: LINKS_OF_MEMBER.where(connection_members.c.org_uuid.in_(uuids)),
                dialect,
            ),
            upsert_connections=Prepared(
                _upsert(dialect, connections, ["id", *CONNECTION_FIELDS]), dialect
            ),
            add_members=Prepared(
                connection_members.insert().values(
                    org_uuid=sa.bindparam("org_uuid"), connection_id=sa.bindparam("connection_id")
                ),
                dialect,
            ),
            heads_in=PreparedIn(
                lambda ids: sa.select(chain_heads).where(chain_heads.c.connection_id.in_(ids)),
                dialect,
            ),
            save_heads=Prepared(_upsert(dialect, chain_heads, HEAD_FIELDS), dialect),
            add_history=Prepared(add_history, dialect),
            last_history_id=Prepared(sa.select(sa.func.max(history.c.id)), dialect),
        )


def _upsert(dialect: sa.Dialect, table: sa.Table, fields: list[str]) -> sa.Insert:
    """Insert a row of `fields` (its one-column primary key among them), or update the one
    with that key."""
    insert = insert_into(table, dialect.name).values({name: sa.bindparam(name) for name in fields})
    (key,) = table.primary_key.columns
    return insert.on_conflict_do_update(
        index_elements=[key],
        set_={name: insert.excluded[name] for name in fields if name != key.name},
    )


_COMPILED: dict[tuple[str, str], WriteStatements] = {}


def statements_for(dialect: sa.Dialect) -> WriteStatements:
    """The statements for this kind of database, compiled the first time it is written."""
    key = (dialect.name, dialect.paramstyle)
    found = _COMPILED.get(key)
    if found is None:
        found = _COMPILED[key] = WriteStatements.compile(dialect)
    return found


def history_values(row: dict[str, Any]) -> dict[str, Any]:
    """A history row as the driver takes it: its JSON columns encoded as SQLAlchemy's JSON
    type encodes them (None as JSON null), with the engine's encoder."""
    values = {name: row.get(name) for name in HISTORY_FIELDS}
    for name in _JSON_FIELDS:
        values[name] = pydantic_core.to_json(values[name]).decode()
    return values
