"""`hamr pair`: where a pair stands, the operations that walk it through the lifecycle, and
unlinking it. The operations go through the same service as the API's, with the same rules and
the same history; the operator acts with admin rights, named `hamr cli` in history."""

from __future__ import annotations

import click

from hamr.cli.datacenter_failover import run_datacenter_operation
from hamr.cli.options import database_option
from hamr.cli.support import emit, open_service
from hamr.domain.lifecycle import OPERATIONS
from hamr.domain.model import (
    KeyKind,
    Link,
    Org,
    PairReport,
    Permission,
    Principal,
    format_timestamp,
)

# Who history names for what the operator does from the command line, with no key.
OPERATOR_KEY = "hamr cli"


@click.group()
def pair() -> None:
    """Where pairs stand, fail them over and back, unlink them."""


@pair.command("show")
@click.option("--org", "org_uuid", required=True, help="An organization of the pair.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@database_option
@click.pass_context
def pair_show(ctx: click.Context, org_uuid: str, as_json: bool, database_url: str | None) -> None:
    """Both sides, the status and since when, the health and the allowed next statuses."""
    service = open_service(ctx, database_url)
    report = service.pairs.report(service.require_org(org_uuid))
    _print_report(as_json, report)


def _operation(name: str) -> click.Command:
    holds = name in ("failover", "recover")

    @click.option("--org", "org_uuid", help="An organization of the pair.")
    @click.option(
        "--datacenter",
        help="Instead of --org: every pair whose primary side is in this datacenter, in "
        "batches, with a progress bar.",
    )
    @click.option("--reason", required=True, help="Why; it goes into the pair's history.")
    @click.option("--dry-run", is_flag=True, help="Say what would happen; store nothing.")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
    @database_option
    @click.pass_context
    def run(
        ctx: click.Context,
        org_uuid: str | None,
        datacenter: str | None,
        reason: str,
        dry_run: bool,
        as_json: bool,
        database_url: str | None,
        hold: bool = False,
    ) -> None:
        if (org_uuid is None) == (datacenter is None):
            raise click.UsageError("Name the pair with --org, or a datacenter with --datacenter.")
        service = open_service(ctx, database_url)
        if datacenter is not None:
            run_datacenter_operation(
                service,
                name,
                datacenter,
                reason,
                hold=hold,
                dry_run=dry_run,
                as_json=as_json,
                key_id=OPERATOR_KEY,
            )
            return
        assert org_uuid is not None
        org = service.require_org(org_uuid)
        principal = Principal(org, OPERATOR_KEY, Permission.ADMIN, KeyKind.TOKEN)
        done, report = service.pairs.run(principal, name, reason, hold, dry_run)
        steps = " -> ".join(
            [done[0].before.hamr_status.name if done[0].before else "none"]
            + [change.after.hamr_status.name for change in done]
        )
        if not as_json:
            click.echo(f"{'would walk' if dry_run else 'walked'} the pair {steps}")
        walked = [
            {
                "from": int(change.before.hamr_status) if change.before else None,
                "to": int(change.after.hamr_status),
            }
            for change in done
        ]
        _print_report(as_json, report, {"steps": walked, "reason": reason, "dry_run": dry_run})

    run.__doc__ = {
        "failover": "PASSIVE -> FAILOVER -> ACTIVE (or only to FAILOVER with --hold).",
        "recover": "ACTIVE -> RECOVERY -> PASSIVE (or only to RECOVERY with --hold).",
        "complete": "FAILOVER -> ACTIVE, or RECOVERY -> PASSIVE.",
        "abort": "FAILOVER -> PASSIVE, or RECOVERY -> ACTIVE.",
    }[name]
    if holds:
        run = click.option("--hold", is_flag=True, help="Stop at the liminal status.")(run)
    return click.command(name)(run)


for _name in OPERATIONS:
    pair.add_command(_operation(_name))


@pair.command("unlink")
@click.option("--org", "org_uuid", required=True, help="An organization of the pair.")
@click.option("--reason", help="Why; it goes into the pair's history.")
@click.option("--dry-run", is_flag=True, help="Say what would be unlinked; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@database_option
@click.pass_context
def pair_unlink(
    ctx: click.Context,
    org_uuid: str,
    reason: str | None,
    dry_run: bool,
    as_json: bool,
    database_url: str | None,
) -> None:
    """Dissolve the connection this organization reads: neither side has one afterwards (the
    history keeps it), and either may link anew. Running servers see it within a quarter of a
    second."""
    link = open_service(ctx, database_url).pairs.unlink(org_uuid, reason, dry_run)
    sides = " and ".join(f"{o.name} ({o.uuid})" for o in (link.first, link.second))
    payload = {
        "connection_id": link.id,
        "hamr_status": int(link.hamr_status),
        "status_name": link.hamr_status.name,
        "sides": [_side(link, org) for org in (link.first, link.second)],
        "reason": reason,
        "dry_run": dry_run,
    }
    emit(as_json, payload, f"{'would unlink' if dry_run else 'unlinked'} {sides}")


def _side(link: Link, org: Org) -> dict[str, object]:
    return {
        "org_uuid": org.uuid,
        "org_name": org.name,
        "datacenter": org.datacenter,
        "is_primary": link.first_is_primary == (org is link.first),
        "known": org is link.first or link.linked,
    }


def _print_report(
    as_json: bool, report: PairReport, operation: dict[str, object] | None = None
) -> None:
    """Where the pair stands (after an operation, or as it stays after a dry run); in JSON,
    with the operation's steps, reason and dry-run flag beside it."""
    link = report.link
    sides = [_side(link, org) for org in (link.first, link.second)]
    since = format_timestamp(report.status_since_us)
    payload = {
        "connection_id": link.id,
        "hamr_status": int(link.hamr_status),
        "status_name": link.hamr_status.name,
        "status_since": since,
        "health": report.health,
        "allowed_next": [int(s) for s in report.allowed_next],
        "policy": report.policy.value,
        "sides": sides,
        **(operation or {}),
    }
    allowed = ", ".join(f"{int(s)} {s.name}" for s in report.allowed_next)
    lines = [
        f"{link.hamr_status.name} ({int(link.hamr_status)}) since {since}  "
        f"health {report.health}  policy {report.policy.value}"
    ]
    for side in sides:
        role = "primary  " if side["is_primary"] else "secondary"
        known = "" if side["known"] else "  (not an organization of this hamr)"
        lines.append(
            f"  {role} {side['org_name']} ({side['org_uuid']}, {side['datacenter']}){known}"
        )
    lines.append(f"  next: {allowed}")
    emit(as_json, payload, "\n".join(lines))
