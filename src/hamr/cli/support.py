"""What every `hamr` verb shares: operator errors as one line and exit status 2, the service
on the configured database, and printing as text or JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError

from hamr.domain.errors import HamrError
from hamr.domain.model import Policy
from hamr.settings import Settings, SettingsError
from hamr.store.sql import StoreUnavailable, describe, open_store
from hamr.usecases.service import HamrService

F = TypeVar("F", bound=Callable[..., Any])


class OperatorError(click.ClickException):
    exit_code = 2


def operator_errors(command: F) -> F:
    """Turn the errors an operator can cause into one line and exit status 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (HamrError, StoreUnavailable, SettingsError) as error:
            raise OperatorError(str(error)) from None
        except SQLAlchemyError as error:
            raise OperatorError(f"database error: {describe(error)}") from None

    return wrapper  # type: ignore[return-value]


def open_service(ctx: click.Context, database_url: str | None) -> HamrService:
    settings = Settings.load(database_url=database_url)
    store = open_store(settings.database_url)
    ctx.call_on_close(store.close)
    return HamrService(
        store.unit_of_work,
        store.view,
        settings.datacenters,
        policy=Policy(settings.transitions),
        stuck_after_seconds=settings.stuck_after_seconds,
    )


def emit(as_json: bool, payload: object, text: str) -> None:
    click.echo(json.dumps(payload, indent=2) if as_json else text)
