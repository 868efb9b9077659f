"""`hamr db upgrade|copy`: the database's schema, and moving everything to another database."""

from __future__ import annotations

import click

from hamr.cli.options import database_option
from hamr.settings import Settings
from hamr.store.sql import open_store


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@database_option
def db_upgrade(database_url: str | None) -> None:
    """Apply any pending schema migrations."""
    from hamr.store.migrate import current_revision

    # As `db copy` does, and unlike a server, with statements unbounded: a migration may be long.
    store = open_store(Settings.load(database_url=database_url).database_url)
    try:
        click.echo(f"database schema at revision {current_revision(store.engine)}")
    finally:
        store.close()


@db.command("copy")
@click.option("--from", "source", required=True, metavar="URL", help="Database to copy from.")
@click.option("--to", "target", required=True, metavar="URL", help="Empty database to copy to.")
def db_copy(source: str, target: str) -> None:
    """Copy all orgs, keys, connections (with their members) and history into an empty database
    (verified)."""
    from hamr.store.copy import copy_database

    counts = copy_database(source, target)
    click.echo("copied " + ", ".join(f"{n} {table}" for table, n in counts.items()))
