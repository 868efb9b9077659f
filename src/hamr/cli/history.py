"""`hamr history`: an organization's history, and `hamr history verify`, which recomputes the
hash chains, and compares their ends with the heads kept, that make a row changed or removed
after it was written stand out."""

from __future__ import annotations

import click

from hamr.cli.options import database_option
from hamr.cli.support import emit_rows, open_service
from hamr.domain.model import HistoryEntry, format_timestamp


@click.group(invoke_without_command=True)
@click.option("--org", "org_uuid", help="The organization's UUID.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@database_option
@click.pass_context
def history(
    ctx: click.Context, org_uuid: str | None, as_json: bool, database_url: str | None
) -> None:
    """Print every accepted change to the connection an organization reads (both sides' writes
    to its pair), and its own earlier writes, oldest first (`--org` is required). `hamr history
    verify` checks that no row was changed or removed since it was written."""
    if ctx.invoked_subcommand is not None:
        return
    if org_uuid is None:
        raise click.UsageError("Missing option '--org'.", ctx)
    entries = open_service(ctx, database_url).history(org_uuid)
    rows = [_history_line(e) for e in entries]
    emit_rows(as_json, [_history_json(e) for e in entries], rows, "no history")


@history.command("verify")
@click.option("--org", "org_uuid", help="Only the connections this organization's history covers.")
@database_option
@click.pass_context
def history_verify(ctx: click.Context, org_uuid: str | None, database_url: str | None) -> None:
    """Recompute every connection's hash chain (or the org's): exit 0 if each row follows from
    the one before it and each chain ends at the newest row kept for it, or 1 naming the first
    row that does not and what differs (a row missing from a chain's end names that row)."""
    given = ctx.parent.params if ctx.parent is not None else {}
    report = open_service(ctx, database_url or given.get("database_url")).verify_history(
        org_uuid or given.get("org_uuid")
    )
    if report.broken is not None:
        click.echo(report.broken.describe())
        ctx.exit(1)
    click.echo(
        f"verified {_count(report.rows, 'history row')} in "
        f"{_count(report.connections, 'connection')}: every chain is intact"
    )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _history_json(entry: HistoryEntry) -> dict[str, object]:
    return {
        "id": entry.id,
        "org_uuid": entry.org_uuid,
        "connection_id": entry.connection_id,
        "recorded_at": format_timestamp(entry.recorded_at_us),
        "modified_by": entry.modified_by,
        "key_id": entry.key_id,
        "before": entry.before,
        "after": entry.after,
        "violation": entry.violation,
        "reason": entry.reason,
    }


def _history_line(entry: HistoryEntry) -> str:
    before = entry.before["hamr_status"] if entry.before else "-"
    after = entry.after
    if after is None:
        return (
            f"{format_timestamp(entry.recorded_at_us)}  status {before} -> unlinked  "
            f"by {entry.modified_by}  (org {entry.org_uuid})"
        )
    return (
        f"{format_timestamp(entry.recorded_at_us)}  status {before} -> {after['hamr_status']}  "
        f"primary={str(after['is_primary']).lower()}  target {after['target_org_uuid']} "
        f"({after['target_org_datacenter']})  by {entry.modified_by}  "
        f"(org {entry.org_uuid}, key {entry.key_id})"
        + (f"  VIOLATION: {entry.violation}" if entry.violation else "")
        + (f"  REASON: {entry.reason}" if entry.reason else "")
    )
