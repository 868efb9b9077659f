"""Fixtures for store tests that need a database of their own (the session's is shared)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from hamr.store.engine import create_engine
from hamr.store.sql import open_store
from tests.conftest import Admin, sqlite_url
from tests.postgres import PostgresServer


@pytest.fixture(params=["sqlite", "postgresql"])
def own_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database, on each backend."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "own.db")
    postgres: PostgresServer = request.getfixturevalue("postgres")
    name = f"own_{uuid.uuid4().hex[:12]}"
    postgres.create_database(name)
    return postgres.url_for(name)


@pytest.fixture
def own_admin(own_database_url: str) -> Iterator[Admin]:
    """hamr's store on that database (migrated), as the CLI's admin commands use it."""
    store = open_store(own_database_url)
    yield Admin(store)
    store.close()


@pytest.fixture
def own_engine(own_database_url: str, own_admin: Admin) -> Iterator[sa.Engine]:
    """For reading and writing rows as SQL would, behind hamr's back."""
    del own_admin  # migrated first
    made = create_engine(own_database_url)
    yield made
    made.dispose()
