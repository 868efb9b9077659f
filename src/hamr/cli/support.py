"""What the verbs share: their own mistakes, shown as the root group shows every operator's
mistake (one line, exit status 2); the service on the configured database; printing as text or
JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from hamr.settings import Settings
from hamr.store.sql import NoHamrDatabase, require_hamr_database

if TYPE_CHECKING:
    from hamr.usecases.service import HamrService

HOW_TO_MAKE_ONE = (
    "make one with `hamr db upgrade` or `hamr serve`, or point --database (HAMR_DATABASE_URL) "
    "at yours"
)


class OperatorError(click.ClickException):
    """A mistake a verb finds itself: `Error: <message>` and exit status 2."""

    exit_code = 2


def open_service(
    ctx: click.Context, database_url: str | None, *, create: bool = False
) -> HamrService:
    """The service on the configured database, closed with the command. Only a verb that
    makes something of a new database may `create` one: any other, on a database that is not
    there, would answer for an empty one in the wrong folder as if all were well."""
    settings = Settings.load(database_url=database_url)
    if not create:
        try:
            require_hamr_database(settings.database_url)
        except NoHamrDatabase as missing:
            raise OperatorError(f"{missing}; {HOW_TO_MAKE_ONE}") from None
    # Imported by the verbs that need a service, not by every `hamr` start.
    from hamr.bootstrap import build_service, open_settings_store

    store = open_settings_store(settings, serving=False)
    ctx.call_on_close(store.close)
    return build_service(settings, store)


def emit(as_json: bool, payload: object, text: str) -> None:
    click.echo(json.dumps(payload, indent=2) if as_json else text)


def emit_rows(as_json: bool, payload: object, rows: Sequence[str], none: str) -> None:
    """A listing: a line per row, or a line that says there is none (not a blank line)."""
    emit(as_json, payload, "\n".join(rows) or none)
