"""INSERT … ON CONFLICT, in the database's own dialect.

A dialect's construct is imported the first time a database of that kind asks for it: importing
PostgreSQL's loads every PostgreSQL driver SQLAlchemy has (asyncpg's among them), a tenth of a
second that each SQLite server start and each CLI verb would pay for nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

    ConflictInsert = postgresql.Insert | sqlite.Insert


def insert_into(table: sa.Table, dialect_name: str) -> ConflictInsert:
    """An INSERT into `table` that can say what to do on a conflict (SQLite's or PostgreSQL's)."""
    if dialect_name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)
