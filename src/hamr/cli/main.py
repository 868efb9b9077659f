"""The `hamr` command: the root group, whose one error policy applies to every verb, and the
verb families, a module each. Without a verb it serves; every verb that uses the database takes
--database.

The policy: an operator's mistake (an unknown org, a bad setting or URL, a database that cannot
be opened, a file that cannot be read or parsed, an emulator that refuses or is not there) is
`Error: <one line>` on stderr and exit status 2, never a traceback. Anything else is a bug, and
keeps its traceback.
"""

from __future__ import annotations

import errno
import json
from typing import Any

import click
import yaml
from sqlalchemy.exc import SQLAlchemyError

from hamr import __version__
from hamr.api.errors import detail_of
from hamr.cli.db import db
from hamr.cli.fault import fault
from hamr.cli.history import history
from hamr.cli.keys import key, token
from hamr.cli.orgs import org
from hamr.cli.pair import pair
from hamr.cli.serve import config, serve
from hamr.cli.support import OperatorError
from hamr.domain.errors import HamrError
from hamr.settings import SettingsError
from hamr.store.sql import StoreUnavailable, describe

# Mistakes whose message is the line to show, once any YAML syntax error in it is on one line.
MISTAKES = (SettingsError, StoreUnavailable, json.JSONDecodeError, yaml.YAMLError)


class HamrGroup(click.Group):
    """The root group: every verb runs inside its invoke, so the policy is applied here once."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own: usage errors (exit 2), exits and aborts
        except Exception as error:
            message = operator_message(error)
            if message is None:
                raise
            raise OperatorError(message) from None


def operator_message(error: Exception) -> str | None:
    """What to tell the operator about `error`, or None if it is no mistake of theirs."""
    if isinstance(error, HamrError):
        return detail_of(error)  # worded as the API words it, naming what to send or run
    if isinstance(error, MISTAKES):
        return _without_yaml_marks(error)
    if isinstance(error, SQLAlchemyError):
        return f"database error: {describe(error)}"
    if isinstance(error, OSError) and error.errno != errno.EPIPE:  # click mends a closed pipe
        return f"{error.strerror}: {error.filename}" if error.filename else str(error)
    if isinstance(error, _mistakes_of_modules_loaded_late()):
        return str(error)
    return None


def _mistakes_of_modules_loaded_late() -> tuple[type[Exception], ...]:
    """The mistakes of modules only some verbs import (the emulator's client brings httpx, the
    server's sockets uvicorn), imported on the way out so that no other verb loads them: by
    then the verb that raised one has loaded its module already."""
    from hamr.emulator.client import AdminApiError
    from hamr.server.listen import CannotListen

    return AdminApiError, CannotListen


def _without_yaml_marks(error: Exception) -> str:
    """The message, with any YAML syntax error in it (this one, or the one a file reader
    wrapped) told on one line: PyYAML's own text quotes the offending line under a caret."""
    message = str(error)
    for syntax in (error, error.__cause__, error.__context__):
        if isinstance(syntax, yaml.YAMLError):
            message = message.replace(str(syntax), _yaml_problem(syntax))
    return message


def _yaml_problem(error: yaml.YAMLError) -> str:
    """`expected ',' or ']', but got '<stream end>' at line 3, column 1 (while parsing a flow
    sequence)`."""
    if not isinstance(error, yaml.MarkedYAMLError) or error.problem is None:
        return str(error).partition("\n")[0]
    mark = error.problem_mark
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    context = f" ({error.context})" if error.context else ""
    return f"{error.problem}{where}{context}"


@click.group(cls=HamrGroup, invoke_without_command=True)
# The source's own version: an editable install's metadata keeps the version it was installed at.
@click.version_option(version=__version__, prog_name="hamr")
@click.pass_context
def main(ctx: click.Context) -> None:
    """hamr: a self-hosted HAMR organization connection API and control plane."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


for _verb in (serve, config, org, key, token, pair, history, db, fault):
    main.add_command(_verb)
