"""Alembic, driven from code: the migrations ship inside the package.

Alembic is imported only when there is something to migrate: a server whose database is at
`HEAD_REVISION` already (every start but the first) never loads it and its templates, ~9 MB a
running server would carry for nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision in migrations/versions (tests/store/test_migrations.py checks it against
# Alembic's own reading of the scripts, so a new migration cannot leave it behind).
HEAD_REVISION = "0008"


def _config(engine: Engine | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is already there)."""
    # Alembic's INFO lines (its plugins as it loads, its context, each migration's docstring)
    # are not an operator's business: migrations/env.py says each migration in one line.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from alembic import command

    command.upgrade(_config(engine), "head")


def current_revision(engine: Engine) -> str | None:
    """The revision the database's schema is at (None: not made by hamr yet)."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        revisions = connection.execute(_REVISIONS).scalars().all()
    if len(revisions) == 1:
        return str(revisions[0])
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:  # none or several: Alembic's own answer, or error
        return MigrationContext.configure(connection).get_current_revision()


def is_known(revision: str) -> bool:
    """False for a revision written by a newer hamr than this one."""
    if revision == HEAD_REVISION:
        return True
    from alembic.script import ScriptDirectory
    from alembic.util.exc import CommandError

    try:
        return ScriptDirectory.from_config(_config()).get_revision(revision) is not None
    except CommandError:
        return False


def scripts_head() -> str | None:
    """The head as Alembic reads it from the scripts (what `HEAD_REVISION` must say)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


# Alembic's own table, outside hamr's metadata (the read view runs this on its probes too).
REVISIONS_SQL = "SELECT version_num FROM alembic_version"
_REVISIONS = sa.text(REVISIONS_SQL)
