"""`hamr db copy`: move everything from one database to another (SQLite <-> PostgreSQL).

Rows keep their identities (org UUIDs, key ids and hashes, history ids), so keys keep working
and history keeps its order; the copy is one transaction on the target, verified by counts.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from hamr.domain.errors import InvalidInput
from hamr.store.sql import open_store, sqlite_file
from hamr.store.state_dump import STATE_TABLES, in_key_order, move_history_ids_past_rows
from hamr.store.tables import chain_heads, epochs, orgs

# The state's tables, parents first, then the chain heads and the epochs (which have none):
# heads copied as they are, so a chain whose end was cut before the copy still shows it after.
TABLES = (*STATE_TABLES, chain_heads, epochs)
CHUNK = 5_000


def copy_database(source_url: str, target_url: str) -> dict[str, int]:
    """Copy every row; return the row count of each table (equal on both sides)."""
    require_existing_source(source_url)
    source, target = open_store(source_url), open_store(target_url)
    try:
        with source.engine.connect() as reader, target.engine.begin() as writer:
            if writer.execute(sa.select(sa.func.count()).select_from(orgs)).scalar_one():
                raise InvalidInput(
                    "the target database already holds organizations; copy into an empty one"
                )
            for table in TABLES:
                result = reader.execution_options(yield_per=CHUNK).execute(in_key_order(table))
                for chunk in result.mappings().partitions(CHUNK):
                    writer.execute(table.insert(), [dict(row) for row in chunk])
            move_history_ids_past_rows(writer)
            counts = {table.name: _count(writer, table) for table in TABLES}
            expected = {table.name: _count(reader, table) for table in TABLES}
            if counts != expected:
                raise InvalidInput(f"copy verification failed: source {expected}, target {counts}")
        return counts
    finally:
        source.close()
        target.close()


def require_existing_source(source_url: str) -> None:
    """Refuse a SQLite source that holds nothing before anything is opened: open_store creates
    a missing file (as serving a new database should), so a mistyped --from would otherwise
    leave an empty database behind and report a copy of nothing as success."""
    try:
        url = make_url(source_url)
    except ArgumentError:
        return  # open_store says what is wrong with it
    if url.get_backend_name() != "sqlite":
        return  # a PostgreSQL database that does not exist already fails at connect
    path = sqlite_file(url)
    if path is None:
        raise InvalidInput(
            f"the source database {source_url} is an in-memory SQLite database, which holds "
            "nothing to copy; --from must name an existing hamr database"
        )
    if not Path(path).exists():
        raise InvalidInput(
            f"the source database {path} does not exist; --from must name an existing hamr database"
        )
    if not Path(path).is_file():
        raise InvalidInput(
            f"the source database {path} is not a file; --from must name an existing hamr database"
        )


def _count(connection: sa.Connection, table: sa.Table) -> int:
    return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
