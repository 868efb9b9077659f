"""The idempotency_keys table's statements, for the repository (inside its transaction).

A claim is an INSERT that does nothing on a conflict: on PostgreSQL, a second claim of a key
another transaction is inserting waits for that transaction and then finds the row (or, if it
rolled back, inserts); on SQLite, writers are serialized anyway. Either way, one claim wins.
"""

from __future__ import annotations

import functools

import sqlalchemy as sa

from hamr.domain.model import IdempotencyRecord, KeyClaim, StoredAnswer
from hamr.store.tables import idempotency_keys as keys
from hamr.store.upserts import insert_into


@functools.cache
def _claim(dialect_name: str) -> sa.Insert:
    """The claim's INSERT for this kind of database. RETURNING says whether the row went in:
    psycopg reports no rowcount for this statement."""
    return insert_into(keys, dialect_name).on_conflict_do_nothing().returning(keys.c.created_at_us)


def _held(claim: KeyClaim) -> sa.ColumnElement[bool]:
    """The row of `claim`, while it is unanswered."""
    return sa.and_(
        keys.c.org_uuid == claim.org_uuid,
        keys.c.key == claim.key,
        keys.c.created_at_us == claim.claimed_at_us,
        keys.c.status.is_(None),
    )


def insert(db: sa.Connection, claim: KeyClaim, request_digest: str) -> bool:
    inserted = db.execute(
        _claim(db.dialect.name),
        {
            "org_uuid": claim.org_uuid,
            "key": claim.key,
            "request_digest": request_digest,
            "status": None,
            "body": None,
            "created_at_us": claim.claimed_at_us,
        },
    )
    return inserted.first() is not None


def get(db: sa.Connection, org_uuid: str, key: str) -> IdempotencyRecord | None:
    row = db.execute(
        sa.select(keys.c.request_digest, keys.c.created_at_us, keys.c.status, keys.c.body).where(
            keys.c.org_uuid == org_uuid, keys.c.key == key
        )
    ).first()
    if row is None:
        return None
    answer = StoredAnswer(row.status, bytes(row.body)) if row.status is not None else None
    return IdempotencyRecord(row.request_digest, row.created_at_us, answer)


def retake(db: sa.Connection, found: KeyClaim, claim: KeyClaim) -> bool:
    moved = db.execute(keys.update().where(_held(found)).values(created_at_us=claim.claimed_at_us))
    return moved.rowcount == 1


def answer(db: sa.Connection, claim: KeyClaim, status: int, body: bytes) -> bool:
    stored = db.execute(keys.update().where(_held(claim)).values(status=status, body=body))
    return stored.rowcount == 1


def release(db: sa.Connection, claim: KeyClaim) -> None:
    db.execute(keys.delete().where(_held(claim)))


def purge(db: sa.Connection, created_before_us: int, org_uuid: str | None, key: str | None) -> int:
    condition = keys.c.created_at_us < created_before_us
    if org_uuid is not None:
        condition = sa.and_(condition, keys.c.org_uuid == org_uuid, keys.c.key == key)
    return db.execute(keys.delete().where(condition)).rowcount
