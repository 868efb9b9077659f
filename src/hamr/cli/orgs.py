"""`hamr org create|list`: organizations, each made with an API and an application key."""

from __future__ import annotations

import click

from hamr.cli.options import database_option
from hamr.cli.support import emit, emit_rows, open_service


@click.group()
def org() -> None:
    """Create and list organizations."""


@org.command("create")
@click.option("--name", required=True, help="The organization's name.")
@click.option("--datacenter", required=True, help="The organization's own datacenter, e.g. us1.")
@click.option("--uuid", "org_uuid", help="Use this UUID instead of a random one.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@database_option
@click.pass_context
def org_create(
    ctx: click.Context,
    name: str,
    datacenter: str,
    org_uuid: str | None,
    as_json: bool,
    database_url: str | None,
) -> None:
    """Create an organization with an API key and an application key (shown once)."""
    created, api_key, app_key = open_service(ctx, database_url, create=True).create_org(
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
def org_list(ctx: click.Context, as_json: bool, database_url: str | None) -> None:
    """List organizations."""
    orgs = open_service(ctx, database_url).list_orgs()
    payload = [{"uuid": o.uuid, "name": o.name, "datacenter": o.datacenter} for o in orgs]
    rows = [f"{o.uuid}  {o.datacenter:<8} {o.name}" for o in orgs]
    emit_rows(as_json, payload, rows, "no organizations")
