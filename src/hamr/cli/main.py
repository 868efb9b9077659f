"""The `hamr` command. Without a verb it serves; every verb takes --database.

Operator mistakes (unknown org, bad datacenter, unreachable database) print one line on stderr
and exit with status 2, never a traceback.
"""

from __future__ import annotations

import secrets
import socket
import sys
from dataclasses import replace
from typing import Any

import click

from hamr.cli.fault import fault
from hamr.cli.history import history
from hamr.cli.options import database_option, load_serve_settings, serve_options
from hamr.cli.pair import pair
from hamr.cli.support import OperatorError, emit, open_service, operator_errors
from hamr.domain.model import KeyKind, KeyRecord, Permission, format_timestamp
from hamr.settings import Settings
from hamr.store.sql import open_store


@click.group(invoke_without_command=True)
@click.version_option(package_name="hamr")
@click.pass_context
def main(ctx: click.Context) -> None:
    """hamr: a self-hosted HAMR organization connection API and control plane."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@main.command()
@serve_options
@click.option(
    "--demo", is_flag=True, help="Create two demo orgs with keys and print how to call them."
)
@operator_errors
def serve(demo: bool, **options: Any) -> None:
    """Serve the HAMR API (the default verb)."""
    from hamr.server.listen import CannotListen, all_listening_sockets

    settings, _sources = load_serve_settings(**options)
    try:
        # First, so a port in use is one line, before the database is opened or anything logged.
        sockets = all_listening_sockets(settings)
    except CannotListen as error:
        raise OperatorError(str(error)) from None
    try:
        _serve_on(sockets, settings, demo)
    finally:
        for sock in sockets:
            sock.close()


def _serve_on(sockets: list[socket.socket], settings: Settings, demo: bool) -> None:
    """Run uvicorn on sockets hamr made, so uvicorn never binds (nor fails to) itself."""
    from hamr.bootstrap import create_app
    from hamr.server.listen import server_for
    from hamr.server.logs import configure_logging
    from hamr.usecases.demo import ensure_demo, instructions

    configure_logging(settings.log_level, settings.log_format)
    if settings.emulator and not settings.admin_token:
        settings = replace(settings, admin_token=secrets.token_urlsafe(24))
        click.echo(
            f"emulator admin API at /_hamr/; send X-Hamr-Admin-Token: {settings.admin_token}"
        )
    app = create_app(settings)
    if demo:
        demo_orgs = ensure_demo(app.state.service)
        click.echo(instructions(demo_orgs, f"http://{settings.host}:{settings.port}"))
        sys.stdout.flush()
    server_for(app, settings, app.emulator.faults if app.emulator else None).run(sockets=sockets)


@main.command()
@serve_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@operator_errors
def config(as_json: bool, **options: Any) -> None:
    """Print the settings `serve` would use with these options, and where each came from
    (flag, env or default). Passwords in URLs are redacted."""
    settings, sources = load_serve_settings(**options)
    shown = settings.redacted()
    payload = {name: {"value": value, "source": sources[name]} for name, value in shown.items()}
    width = max(map(len, shown))
    text = "\n".join(
        f"{name:<{width}}  {value}  ({sources[name]})" for name, value in shown.items()
    )
    emit(as_json, payload, text)


@main.group()
def org() -> None:
    """Create and list organizations."""


@org.command("create")
@click.option("--name", required=True, help="The organization's name.")
@click.option("--datacenter", required=True, help="The organization's own datacenter, e.g. us1.")
@click.option("--uuid", "org_uuid", help="Use this UUID instead of a random one.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@database_option
@click.pass_context
@operator_errors
def org_create(
    ctx: click.Context,
    name: str,
    datacenter: str,
    org_uuid: str | None,
    as_json: bool,
    database_url: str | None,
) -> None:
    """Create an organization with an API key and an application key (shown once)."""
    created, api_key, app_key = open_service(ctx, database_url).create_org(
        name, datacenter, org_uuid
    )
    payload = {
        "uuid": created.uuid,
        "name": created.name,
        "datacenter": created.datacenter,
        "api_key": api_key,
        "app_key": app_key,
    }
    text = "\n".join(f"{field:<11} {value}" for field, value in payload.items())
    emit(as_json, payload, text + "\nThe keys are shown only now; store them safely.")


@org.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@database_option
@click.pass_context
@operator_errors
def org_list(ctx: click.Context, as_json: bool, database_url: str | None) -> None:
    """List organizations."""
    orgs = open_service(ctx, database_url).list_orgs()
    payload = [{"uuid": o.uuid, "name": o.name, "datacenter": o.datacenter} for o in orgs]
    emit(as_json, payload, "\n".join(f"{o.uuid}  {o.datacenter:<8} {o.name}" for o in orgs))


@main.group()
def key() -> None:
    """Create, list and revoke API and application keys."""


permission_option = click.option(
    "--permission",
    type=click.Choice([p.value for p in Permission]),
    default=Permission.WRITE.value,
    show_default=True,
    help="What it may do: read (GET only), write, or admin (also break-glass overrides).",
)


@key.command("create")
@click.option("--org", "org_uuid", required=True, help="The organization's UUID.")
@click.option("--type", "kind", type=click.Choice(["api", "app"]), required=True)
@permission_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@database_option
@click.pass_context
@operator_errors
def key_create(
    ctx: click.Context,
    org_uuid: str,
    kind: str,
    permission: str,
    as_json: bool,
    database_url: str | None,
) -> None:
    """Create a key (the secret is shown once); application keys carry a permission."""
    record, secret = open_service(ctx, database_url).create_key(
        org_uuid, KeyKind(kind), Permission(permission)
    )
    _print_secret(as_json, record, secret)


@key.command("list")
@click.option("--org", "org_uuid", required=True, help="The organization's UUID.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@database_option
@click.pass_context
@operator_errors
def key_list(ctx: click.Context, org_uuid: str, as_json: bool, database_url: str | None) -> None:
    """List an organization's keys and tokens (never their secrets)."""
    records = open_service(ctx, database_url).list_keys(org_uuid)
    emit(
        as_json,
        [_key_json(r) for r in records],
        "\n".join(
            f"{r.id}  {r.kind.value:<5} {r.permission.value:<5}  "
            f"created {format_timestamp(r.created_at_us)}"
            + (f"  revoked {format_timestamp(r.revoked_at_us)}" if r.revoked_at_us else "")
            for r in records
        ),
    )


@key.command("revoke")
@click.argument("key_id")
@database_option
@click.pass_context
@operator_errors
def key_revoke(ctx: click.Context, key_id: str, database_url: str | None) -> None:
    """Revoke a key or token; running servers refuse it within a second."""
    record, newly = open_service(ctx, database_url).revoke_key(key_id)
    if newly:
        click.echo(f"revoked {record.kind.value} key {record.id}")
    else:
        assert record.revoked_at_us is not None
        click.echo(
            f"{record.kind.value} key {record.id} was already revoked at "
            f"{format_timestamp(record.revoked_at_us)}; nothing changed"
        )


@main.group()
def token() -> None:
    """Create bearer tokens."""


@token.command("create")
@click.option("--org", "org_uuid", required=True, help="The organization's UUID.")
@permission_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@database_option
@click.pass_context
@operator_errors
def token_create(
    ctx: click.Context, org_uuid: str, permission: str, as_json: bool, database_url: str | None
) -> None:
    """Create a token for `Authorization: Bearer <token>` (shown once)."""
    record, secret = open_service(ctx, database_url).create_key(
        org_uuid, KeyKind.TOKEN, Permission(permission)
    )
    _print_secret(as_json, record, secret)


main.add_command(pair)
main.add_command(history)
main.add_command(fault)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@database_option
@operator_errors
def db_upgrade(database_url: str | None) -> None:
    """Apply any pending schema migrations."""
    from hamr.store.migrate import current_revision

    store = open_store(Settings.load(database_url=database_url).database_url)
    try:
        click.echo(f"database schema at revision {current_revision(store.engine)}")
    finally:
        store.close()


@db.command("copy")
@click.option("--from", "source", required=True, metavar="URL", help="Database to copy from.")
@click.option("--to", "target", required=True, metavar="URL", help="Empty database to copy to.")
@operator_errors
def db_copy(source: str, target: str) -> None:
    """Copy all orgs, keys, connections (with their members) and history into an empty database
    (verified)."""
    from hamr.store.copy import copy_database

    counts = copy_database(source, target)
    click.echo("copied " + ", ".join(f"{n} {table}" for table, n in counts.items()))


def _print_secret(as_json: bool, record: KeyRecord, secret: str) -> None:
    payload = {**_key_json(record), "key": secret}
    text = f"id   {record.id}\nkey  {secret}\nThe key is shown only now; store it safely."
    emit(as_json, payload, text)


def _key_json(record: KeyRecord) -> dict[str, object]:
    return {
        "id": record.id,
        "org_uuid": record.org_uuid,
        "type": record.kind.value,
        "permission": record.permission.value,
        "created_at": format_timestamp(record.created_at_us),
        "revoked_at": format_timestamp(record.revoked_at_us) if record.revoked_at_us else None,
    }
