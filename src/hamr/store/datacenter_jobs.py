"""Datacenter operations in SQL: the job rows (one running at a time, by the unique `active`
column), the pairs whose primary side is in a datacenter, a batch at a time in connection id
order, and their counts by status."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from hamr.domain.datacenter_jobs import DatacenterJob, JobState, Refusal
from hamr.domain.model import HamrStatus
from hamr.store.tables import connections, datacenter_jobs, orgs
from hamr.store.write_sql import LINK_COLUMNS

# The datacenter of a connection's primary side: its creator's record, or the target as named.
_primary_datacenter = sa.case(
    (connections.c.org_is_primary, orgs.c.datacenter), else_=connections.c.target_org_datacenter
)
_ACTIVE = 1


def primary_link_rows(
    db: sa.Connection, datacenter: str, after: str, limit: int
) -> list[tuple[Any, ...]]:
    """Up to `limit` connections whose primary side is in `datacenter`, by id, after `after`,
    as rows in `LINK_COLUMNS`' order."""
    select = (
        sa.select(*LINK_COLUMNS)
        .join(orgs, orgs.c.uuid == connections.c.org_uuid)
        .where(connections.c.id > after, _primary_datacenter == datacenter)
        .order_by(connections.c.id)
        .limit(limit)
    )
    return [tuple(row) for row in db.execute(select)]


def counts(db: sa.Connection, datacenter: str) -> dict[HamrStatus, int]:
    """How many pairs whose primary side is in `datacenter` have each status."""
    select = (
        sa.select(connections.c.hamr_status, sa.func.count())
        .join(orgs, orgs.c.uuid == connections.c.org_uuid)
        .where(_primary_datacenter == datacenter)
        .group_by(connections.c.hamr_status)
    )
    return {HamrStatus(status): count for status, count in db.execute(select)}


def insert(db: sa.Connection, job: DatacenterJob) -> bool:
    """Store a new running job, unless one runs already (then False, nothing stored): of two
    at once, on any number of processes, the unique `active` column lets one in."""
    insert_for = postgresql_insert if db.dialect.name == "postgresql" else sqlite_insert
    statement = insert_for(datacenter_jobs).values(_values(job)).on_conflict_do_nothing()
    return db.execute(statement).rowcount == 1


def get(db: sa.Connection, job_id: str) -> DatacenterJob | None:
    row = db.execute(sa.select(datacenter_jobs).where(datacenter_jobs.c.id == job_id)).first()
    return None if row is None else _job(row)


def running(db: sa.Connection) -> DatacenterJob | None:
    select = sa.select(datacenter_jobs).where(datacenter_jobs.c.active == _ACTIVE)
    row = db.execute(select).first()
    return None if row is None else _job(row)


def latest(db: sa.Connection, datacenter: str, operation: str) -> DatacenterJob | None:
    """The newest job of this operation on this datacenter."""
    select = (
        sa.select(datacenter_jobs)
        .where(datacenter_jobs.c.datacenter == datacenter, datacenter_jobs.c.operation == operation)
        .order_by(datacenter_jobs.c.created_at_us.desc())
        .limit(1)
    )
    row = db.execute(select).first()
    return None if row is None else _job(row)


def claim(
    db: sa.Connection, job_id: str, owner: str, now_us: int, stale_before_us: int
) -> DatacenterJob | None:
    """Hold the running job for `owner` (it held it, or its holder's lease ran out), with a
    fresh heartbeat; None if another holds it or it is not running. On PostgreSQL the row
    stays locked until commit, so that two claimants queue and the second sees the first's."""
    table = datacenter_jobs
    claimed = db.execute(
        table.update()
        .where(
            table.c.id == job_id,
            table.c.active == _ACTIVE,
            sa.or_(table.c.owner == owner, table.c.heartbeat_at_us < stale_before_us),
        )
        .values(owner=owner, heartbeat_at_us=now_us)
    )
    return get(db, job_id) if claimed.rowcount == 1 else None


def save(db: sa.Connection, job: DatacenterJob) -> None:
    """Store the job's progress (and its end, when finished)."""
    values = _values(job)
    del values["id"]
    db.execute(datacenter_jobs.update().where(datacenter_jobs.c.id == job.id).values(values))


def _values(job: DatacenterJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "datacenter": job.datacenter,
        "operation": job.operation,
        "hold": job.hold,
        "reason": job.reason,
        "state": job.state.value,
        "active": _ACTIVE if job.running else None,
        "total": job.total,
        "done": job.done,
        "refused": job.refused,
        "position": job.position,
        "refusals": [
            {"connection_id": r.connection_id, "org_uuid": r.org_uuid, "detail": r.detail}
            for r in job.refusals
        ],
        "org_uuid": job.org_uuid,
        "key_id": job.key_id,
        "batch_size": job.batch_size,
        "created_at_us": job.created_at_us,
        "heartbeat_at_us": job.heartbeat_at_us,
        "finished_at_us": job.finished_at_us,
        "owner": job.owner,
    }


def _job(row: Any) -> DatacenterJob:
    return DatacenterJob(
        id=row.id,
        datacenter=row.datacenter,
        operation=row.operation,
        hold=bool(row.hold),
        reason=row.reason,
        state=JobState(row.state),
        total=row.total,
        done=row.done,
        refused=row.refused,
        position=row.position,
        refusals=tuple(Refusal(**r) for r in row.refusals),
        org_uuid=row.org_uuid,
        key_id=row.key_id,
        batch_size=row.batch_size,
        created_at_us=row.created_at_us,
        heartbeat_at_us=row.heartbeat_at_us,
        finished_at_us=row.finished_at_us,
        owner=row.owner,
    )
