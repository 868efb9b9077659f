"""Alembic environment: runs against the engine hamr hands over, never one from a config file."""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping
from typing import Any

from alembic import context
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import Script

from hamr.store.tables import metadata

logger = logging.getLogger("hamr.store.migrate")


def _said_once(
    ctx: MigrationContext, step: MigrationInfo, heads: Collection[Any], run_args: Mapping[str, Any]
) -> None:
    """One line per migration: its revision and the title its docstring opens with (Alembic's
    own line carries the docstring's whole first paragraph, over several lines)."""
    script = step.up_revision
    doc = " ".join(script.doc.split()) if isinstance(script, Script) else ""
    title = re.split(r"[:;.] ", doc + " ", maxsplit=1)[0]
    logger.info("database schema upgraded to %s: %s", step.up_revision_id, title)


engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        on_version_apply=_said_once,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
