"""Datacenter operations in SQL: the job rows (one running at a time, by the unique `active`
column), the pairs whose primary side is in a datacenter, a batch at a time in connection id
order, and their counts by status: both ranges of an index on the connection's
`primary_datacenter`, so a batch costs the same at the end of a million pairs as at the start,
and a count reads no table row."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from hamr.domain.datacenter_jobs import DatacenterJob, JobState, Refusal
from hamr.domain.model import HamrStatus
from hamr.store.tables import connections, datacenter_jobs, orgs
from hamr.store.upserts import insert_into
from hamr.store.write_sql import LINK_COLUMNS

_ACTIVE = 1
_in_datacenter = connections.c.primary_datacenter == sa.bindparam("datacenter")

# Connections whose primary side is in a datacenter, by id after a position; their number
# by status; the job rows.
PRIMARY_LINKS = (
    sa.select(*LINK_COLUMNS)
    .join(orgs, orgs.c.uuid == connections.c.org_uuid)
    .where(_in_datacenter, connections.c.id > sa.bindparam("after"))
    .order_by(connections.c.id)
    .limit(sa.bindparam("limit", type_=sa.Integer))
    # SQLite's dialect writes LIMIT with an OFFSET; named, it is a parameter the driver gets.
    .offset(sa.bindparam("skip", type_=sa.Integer))
)
COUNTS = (
    sa.select(connections.c.hamr_status, sa.func.count())
    .where(_in_datacenter)
    .group_by(connections.c.hamr_status)
)
# Every value a parameter, constants too: the read side runs these on the driver directly.
RUNNING = sa.select(datacenter_jobs).where(datacenter_jobs.c.active == sa.bindparam("active"))
LATEST = (
    sa.select(datacenter_jobs)
    .where(
        datacenter_jobs.c.datacenter == sa.bindparam("datacenter"),
        datacenter_jobs.c.operation == sa.bindparam("operation"),
    )
    .order_by(datacenter_jobs.c.created_at_us.desc())
    .limit(sa.bindparam("limit", type_=sa.Integer))
    # SQLite's dialect writes LIMIT with an OFFSET; named, it is a parameter the driver gets.
    .offset(sa.bindparam("skip", type_=sa.Integer))
)
BY_ID = sa.select(datacenter_jobs).where(datacenter_jobs.c.id == sa.bindparam("job_id"))
JOB_COLUMNS = [column.name for column in datacenter_jobs.c]
RUNNING_VALUES = {"active": _ACTIVE}


def latest_values(datacenter: str, operation: str) -> dict[str, object]:
    return {"datacenter": datacenter, "operation": operation, "limit": 1, "skip": 0}


def primary_values(datacenter: str, after: str, limit: int) -> dict[str, object]:
    return {"datacenter": datacenter, "after": after, "limit": limit, "skip": 0}


def primary_link_rows(
    db: sa.Connection, datacenter: str, after: str, limit: int
) -> list[tuple[Any, ...]]:
    """Up to `limit` connections whose primary side is in `datacenter`, by id, after `after`,
    in `LINK_COLUMNS`' order."""
    values = primary_values(datacenter, after, limit)
    return [tuple(row) for row in db.execute(PRIMARY_LINKS, values)]


def counts(db: sa.Connection, datacenter: str) -> dict[HamrStatus, int]:
    """How many pairs whose primary side is in `datacenter` have each status."""
    rows = db.execute(COUNTS, {"datacenter": datacenter})
    return {HamrStatus(status): count for status, count in rows}


def insert(db: sa.Connection, job: DatacenterJob) -> bool:
    """Store a new running job, unless one runs already (then False, nothing stored): of two
    at once, on any number of processes, the unique `active` column lets one in."""
    statement = (
        insert_into(datacenter_jobs, db.dialect.name)
        .values(_values(job))
        .on_conflict_do_nothing()
        .returning(datacenter_jobs.c.id)
    )
    # By what it returns: psycopg's rowcount does not say for an INSERT ... ON CONFLICT.
    return db.execute(statement).first() is not None


def get(db: sa.Connection, job_id: str) -> DatacenterJob | None:
    row = db.execute(BY_ID, {"job_id": job_id}).first()
    return None if row is None else job_of(dict(row._mapping))


def running(db: sa.Connection) -> DatacenterJob | None:
    row = db.execute(RUNNING, RUNNING_VALUES).first()
    return None if row is None else job_of(dict(row._mapping))


def latest(db: sa.Connection, datacenter: str, operation: str) -> DatacenterJob | None:
    """The newest job of this operation on this datacenter."""
    row = db.execute(LATEST, latest_values(datacenter, operation)).first()
    return None if row is None else job_of(dict(row._mapping))


def claim(
    db: sa.Connection, job_id: str, owner: str, now_us: int, stale_before_us: int
) -> DatacenterJob | None:
    """Hold the running job for `owner` (it held it, or its holder's lease ran out), with a
    fresh heartbeat; None if another holds it or it is not running. On PostgreSQL the row
    stays locked until commit, so that two claimants queue and the second sees the first's."""
    table = datacenter_jobs
    row = db.execute(
        table.update()
        .where(
            table.c.id == job_id,
            table.c.active == _ACTIVE,
            sa.or_(table.c.owner == owner, table.c.heartbeat_at_us < stale_before_us),
        )
        .values(owner=owner, heartbeat_at_us=now_us)
        .returning(*table.c)
    ).first()
    return None if row is None else job_of(dict(row._mapping))


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


def job_of(row: Mapping[str, Any]) -> DatacenterJob:
    refusals = row["refusals"]
    if isinstance(refusals, str):  # read through the driver: SQLite's JSON is text
        refusals = json.loads(refusals)
    return DatacenterJob(
        id=row["id"],
        datacenter=row["datacenter"],
        operation=row["operation"],
        hold=bool(row["hold"]),
        reason=row["reason"],
        state=JobState(row["state"]),
        total=row["total"],
        done=row["done"],
        refused=row["refused"],
        position=row["position"],
        refusals=tuple(Refusal(**r) for r in refusals),
        org_uuid=row["org_uuid"],
        key_id=row["key_id"],
        batch_size=row["batch_size"],
        created_at_us=row["created_at_us"],
        heartbeat_at_us=row["heartbeat_at_us"],
        finished_at_us=row["finished_at_us"],
        owner=row["owner"],
    )
