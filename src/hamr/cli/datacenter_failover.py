"""`hamr pair failover|recover|complete|abort --datacenter DC`: the pair operation over every
pair whose primary side is in the datacenter, as the API's datacenter operation (the same job,
rules and history). The command starts the job (or picks up the one of the same operation and
datacenter that a crash left running) and walks it a batch at a time itself; while a server
holds it, the command follows it instead. Either way a progress bar says how far it got."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import click

from hamr.cli.support import emit
from hamr.domain.datacenter_jobs import DatacenterJob, JobRunning, Refusal, Rehearsal
from hamr.usecases.datacenter_operations import BATCH_PAIRS, owner_name

if TYPE_CHECKING:
    from hamr.usecases.service import HamrService

# How often the command looks at a job another process walks.
FOLLOW_SECONDS = 0.25


def run_datacenter_operation(
    service: HamrService,
    operation: str,
    datacenter: str,
    reason: str,
    *,
    hold: bool,
    dry_run: bool,
    as_json: bool,
    key_id: str,
) -> None:
    operations = service.datacenter_operations
    if dry_run:
        _print_rehearsal(as_json, operations.rehearse(datacenter, operation, reason, hold=hold))
        return
    try:
        job = operations.start(
            datacenter,
            operation,
            reason,
            hold=hold,
            batch_size=BATCH_PAIRS,
            org_uuid="",
            key_id=key_id,
        )
    except JobRunning as running:
        job = running.running
        if (job.datacenter, job.operation) != (operations.datacenter(datacenter), operation):
            raise
        click.echo(f"picking up {operation} {job.id}, already running", err=True)
    owner = owner_name()
    with click.progressbar(
        length=max(job.total, 1),
        label=f"{operation} {job.datacenter}",
        show_pos=True,
        item_show_func=_counts,
        file=sys.stderr,
    ) as bar:
        while job.running:
            stepped = operations.step(job.id, owner)
            if stepped is None:  # a server holds it: follow
                time.sleep(FOLLOW_SECONDS)
                job = operations.get(job.id) or job
            else:
                job = stepped[0]
            bar.update(job.done + job.refused - bar.pos, job)
    _print_job(as_json, job)


def _counts(job: DatacenterJob | None) -> str | None:
    if job is None:
        return None
    return f"done {job.done}  refused {job.refused}  remaining {job.remaining}"


def _refusals(refusals: tuple[Refusal, ...]) -> list[dict[str, str]]:
    return [
        {"connection_id": r.connection_id, "org_uuid": r.org_uuid, "detail": r.detail}
        for r in refusals
    ]


def _print_job(as_json: bool, job: DatacenterJob) -> None:
    payload: dict[str, Any] = {
        "id": job.id,
        "datacenter": job.datacenter,
        "operation": job.operation,
        "state": job.state.value,
        "reason": job.reason,
        "total": job.total,
        "done": job.done,
        "refused": job.refused,
        "refusals": _refusals(job.refusals),
        "dry_run": False,
    }
    lines = [
        f"{job.operation} of {job.datacenter}: walked {job.done} of {job.total} pairs, "
        f"refused {job.refused}"
    ]
    lines += [f"  refused {r.connection_id}: {r.detail}" for r in job.refusals]
    emit(as_json, payload, "\n".join(lines))


def _print_rehearsal(as_json: bool, rehearsal: Rehearsal) -> None:
    payload = {
        "datacenter": rehearsal.datacenter,
        "operation": rehearsal.operation,
        "total": rehearsal.total,
        "done": rehearsal.done,
        "refused": rehearsal.refused,
        "refusals": _refusals(rehearsal.refusals),
        "dry_run": True,
    }
    lines = [
        f"{rehearsal.operation} of {rehearsal.datacenter} would walk {rehearsal.done} of "
        f"{rehearsal.total} pairs and refuse {rehearsal.refused}"
    ]
    lines += [f"  would refuse {r.connection_id}: {r.detail}" for r in rehearsal.refusals]
    emit(as_json, payload, "\n".join(lines))
