"""What following a datacenter operation reads (store/datacenter_jobs.py's queries), outside
any unit of work."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import closing
from typing import Any

from sqlalchemy.engine import Engine

from hamr.domain.datacenter_jobs import DatacenterJob
from hamr.domain.model import HamrStatus, Link
from hamr.store.datacenter_jobs import (
    BY_ID,
    COUNTS,
    JOB_COLUMNS,
    LATEST,
    PRIMARY_LINKS,
    RUNNING,
    RUNNING_VALUES,
    job_of,
    latest_values,
    primary_values,
)
from hamr.store.outage import raise_if_outage
from hamr.store.prepared import Prepared
from hamr.store.repository import link_from_row


class SqlDatacenterReads:
    """What following a datacenter operation reads, outside any unit of work: each query on
    a pooled connection borrowed for it, as the read view's, so that polling progress, counting
    pairs or rehearsing never waits for the write lock (SQLite's units of work take it) that
    the operation's batches hold."""

    def __init__(self, engine: Engine):
        self._engine = engine
        dialect = engine.dialect
        self._links = Prepared(PRIMARY_LINKS, dialect)
        self._counts = Prepared(COUNTS, dialect)
        self._running = Prepared(RUNNING, dialect)
        self._latest = Prepared(LATEST, dialect)
        self._by_id = Prepared(BY_ID, dialect)

    def primary_links_in(self, datacenter: str, after: str, limit: int) -> list[Link]:
        values = primary_values(datacenter, after, limit)
        return [link_from_row(row) for row in self._rows(self._links, values)]

    def pair_counts(self, datacenter: str) -> dict[HamrStatus, int]:
        rows = self._rows(self._counts, {"datacenter": datacenter})
        return {HamrStatus(status): count for status, count in rows}

    def running_datacenter_job(self) -> DatacenterJob | None:
        return self._job(self._rows(self._running, RUNNING_VALUES))

    def latest_datacenter_job(self, datacenter: str, operation: str) -> DatacenterJob | None:
        return self._job(self._rows(self._latest, latest_values(datacenter, operation)))

    def get_datacenter_job(self, job_id: str) -> DatacenterJob | None:
        return self._job(self._rows(self._by_id, {"job_id": job_id}))

    def _job(self, rows: list[tuple[Any, ...]]) -> DatacenterJob | None:
        return job_of(dict(zip(JOB_COLUMNS, rows[0], strict=True))) if rows else None

    def _rows(self, query: Prepared, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        try:
            with closing(self._engine.raw_connection()) as connection:
                cursor = connection.cursor()
                try:
                    cursor.execute(query.sql, query.params(values))
                    return [tuple(row) for row in cursor.fetchall()]
                finally:
                    cursor.close()
        except Exception as error:
            raise_if_outage(error, self._engine.dialect)
            raise
