"""`hamr key create|list|revoke` and `hamr token create`: an organization's credentials, whose
secrets are shown once, when made, and stored only as hashes."""

from __future__ import annotations

import click

from hamr.cli.options import database_option
from hamr.cli.support import emit, emit_rows, open_service
from hamr.domain.model import KeyKind, KeyRecord, Permission, format_timestamp

permission_option = click.option(
    "--permission",
    type=click.Choice([p.value for p in Permission]),
    default=Permission.WRITE.value,
    show_default=True,
    help="What it may do: read (GET only), write, or admin (also break-glass overrides).",
)


@click.group()
def key() -> None:
    """Create, list and revoke API and application keys."""


@key.command("create")
@click.option("--org", "org_uuid", required=True, help="The organization's UUID.")
@click.option("--type", "kind", type=click.Choice(["api", "app"]), required=True)
@permission_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@database_option
@click.pass_context
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
def key_list(ctx: click.Context, org_uuid: str, as_json: bool, database_url: str | None) -> None:
    """List an organization's keys and tokens (never their secrets)."""
    records = open_service(ctx, database_url).list_keys(org_uuid)
    rows = [
        f"{r.id}  {r.kind.value:<5} {r.permission.value:<5}  "
        f"created {format_timestamp(r.created_at_us)}"
        + (f"  revoked {format_timestamp(r.revoked_at_us)}" if r.revoked_at_us else "")
        for r in records
    ]
    emit_rows(as_json, [_key_json(r) for r in records], rows, "no keys")


@key.command("revoke")
@click.argument("key_id")
@database_option
@click.pass_context
def key_revoke(ctx: click.Context, key_id: str, database_url: str | None) -> None:
    """Revoke a key or token; running servers refuse it within a quarter of a second."""
    record, newly = open_service(ctx, database_url).revoke_key(key_id)
    if newly:
        click.echo(f"revoked {record.kind.value} key {record.id}")
    else:
        assert record.revoked_at_us is not None
        click.echo(
            f"{record.kind.value} key {record.id} was already revoked at "
            f"{format_timestamp(record.revoked_at_us)}; nothing changed"
        )


@click.group()
def token() -> None:
    """Create bearer tokens."""


@token.command("create")
@click.option("--org", "org_uuid", required=True, help="The organization's UUID.")
@permission_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@database_option
@click.pass_context
def token_create(
    ctx: click.Context, org_uuid: str, permission: str, as_json: bool, database_url: str | None
) -> None:
    """Create a token for `Authorization: Bearer <token>` (shown once)."""
    record, secret = open_service(ctx, database_url).create_key(
        org_uuid, KeyKind.TOKEN, Permission(permission)
    )
    _print_secret(as_json, record, secret)


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
