"""A connection's primary datacenter (store/tables.py, migration 0008): every write keeps it
as the pair's primary side moves, and a datacenter operation's batch and a datacenter's counts
are ranges of its indexes, on SQLite and on PostgreSQL: their plans name the index and scan
no table, so neither grows with the pairs outside the range (a batch's cost stays the same at
the end of 500,000 pairs; the page's count reads no connection row)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from hamr.domain.model import HamrStatus
from hamr.store import datacenter_jobs
from hamr.store.tables import connections, orgs
from tests.conftest import Admin
from tests.store.test_chain_heads import plan
from tests.store.test_history_chain import change, principal

# Pairs outside the datacenter asked for, beside those in it: the planner then has a reason
# to use the index, and a plan that scans shows it.
ELSEWHERE, INSIDE = 20_000, 2_000


def primary_datacenters(engine: sa.Engine) -> dict[str, str]:
    """Each connection's stored primary datacenter, by the uuid of the org that made it."""
    query = sa.select(connections.c.org_uuid, connections.c.primary_datacenter)
    with engine.connect() as db:
        return {org: datacenter for org, datacenter in db.execute(query)}


def test_writes_keep_the_primary_datacenter_as_the_primary_side_moves(
    own_admin: Admin, own_engine: sa.Engine
) -> None:
    us1, eu1 = own_admin.create_org("us1"), own_admin.create_org("eu1")
    own_admin.service.upsert_connections([(principal(own_admin, us1), change(2, eu1, True))])
    assert primary_datacenters(own_engine) == {us1.uuid: "us1"}
    # The partner answers from its side, taking the primary role: the pair's row moves to eu1.
    own_admin.service.upsert_connections([(principal(own_admin, eu1), change(4, us1, True))])
    assert primary_datacenters(own_engine) == {us1.uuid: "eu1"}
    own_admin.service.upsert_connections([(principal(own_admin, us1), change(4, eu1, True))])
    assert primary_datacenters(own_engine) == {us1.uuid: "us1"}
    with own_admin.store.unit_of_work() as uow:
        assert uow.repository.pair_counts("us1") == {HamrStatus.ACTIVE: 1}
        assert uow.repository.pair_counts("eu1") == {}
        assert [link.first.uuid for link in uow.repository.primary_links_in("us1", "", 10)] == [
            us1.uuid
        ]


def test_a_state_leaves_it_out_and_a_load_derives_it(
    own_admin: Admin, own_engine: sa.Engine
) -> None:
    us1, eu1 = own_admin.create_org("us1"), own_admin.create_org("eu1")
    own_admin.service.upsert_connections([(principal(own_admin, us1), change(2, eu1, False))])
    with own_admin.store.unit_of_work() as uow:
        state = uow.repository.dump_state()
    (row,) = state["connections"]
    assert "primary_datacenter" not in row
    with own_engine.begin() as db:  # wrong behind hamr's back: the load must not keep it
        db.execute(connections.update().values(primary_datacenter="us1"))
    with own_admin.store.unit_of_work() as uow:
        uow.repository.replace_state(state)
        uow.commit()
    assert primary_datacenters(own_engine) == {us1.uuid: "eu1"}


@pytest.fixture
def many_pairs(own_engine: sa.Engine) -> sa.Engine:
    """One-sided connections, most primary elsewhere, written behind hamr's back with their
    primary datacenter, then analysed so that the planner knows their numbers."""
    now = 1_800_000_000_000_000
    org_rows: list[dict[str, Any]] = []
    connection_rows: list[dict[str, Any]] = []
    for index in range(ELSEWHERE + INSIDE):
        org = str(uuid.uuid4())
        here = "us1" if index % ((ELSEWHERE + INSIDE) // INSIDE) == 0 else "eu1"
        org_rows.append({"uuid": org, "name": f"org {index}", "datacenter": here})
        connection_rows.append(
            {
                "id": str(uuid.uuid4()),
                "org_uuid": org,
                "target_org_uuid": str(uuid.uuid4()),
                "target_org_name": "elsewhere",
                "target_org_datacenter": "ap1",
                "linked": False,
                "org_is_primary": True,
                "hamr_status": int(HamrStatus.PASSIVE),
                "modified_at_us": now,
                "modified_by": "bench",
                "primary_datacenter": here,
            }
        )
    with own_engine.begin() as db:
        db.execute(orgs.insert(), [{**row, "created_at_us": now} for row in org_rows])
        db.execute(connections.insert(), connection_rows)
    with own_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
        db.execute(
            sa.text("VACUUM ANALYZE" if own_engine.dialect.name == "postgresql" else "ANALYZE")
        )
    return own_engine


def steps_of(admin: Admin, statement: sa.Select[Any], values: dict[str, object]) -> list[str]:
    """The database's plan for one of store/datacenter_jobs.py's statements with `values`."""
    dialect = admin.store.engine.dialect
    if dialect.name == "sqlite":
        compiled = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        return plan(admin.store, str(compiled), None)
    compiled = statement.compile(dialect=dialect)
    return plan(admin.store, str(compiled), compiled.construct_params(values))


def test_a_batch_of_a_datacenters_pairs_seeks_its_index(
    own_admin: Admin, many_pairs: sa.Engine
) -> None:
    values = datacenter_jobs.primary_values("us1", "", 500)
    statement = datacenter_jobs.PRIMARY_LINKS.params(values)
    steps = steps_of(own_admin, statement, values)
    assert any("ix_connections_primary_datacenter_id" in line for line in steps), steps
    assert not [line for line in steps if scans_connections(line) or sorts(line)], steps
    with own_admin.store.unit_of_work() as uow:
        batch = uow.repository.primary_links_in("us1", "", 500)
    assert len(batch) == 500
    assert {link.first.datacenter for link in batch} == {"us1"}  # every one the primary side


def test_a_datacenters_counts_read_the_index_alone(own_admin: Admin, many_pairs: sa.Engine) -> None:
    values = {"datacenter": "us1"}
    steps = steps_of(own_admin, datacenter_jobs.COUNTS.params(values), values)
    assert any("ix_connections_primary_datacenter_status" in line for line in steps), steps
    covering = ("COVERING INDEX", "Index Only Scan")
    assert any(word in line for line in steps for word in covering), steps
    assert not [line for line in steps if scans_connections(line)], steps
    with own_admin.store.unit_of_work() as uow:
        assert uow.repository.pair_counts("us1") == {HamrStatus.PASSIVE: INSIDE}


def scans_connections(line: str) -> bool:
    """A plan step that reads every connection: SQLite's SCAN of the table, PostgreSQL's
    sequential scan."""
    return line.lstrip(" ->").startswith(("SCAN connections", "Seq Scan on connections"))


def sorts(line: str) -> bool:
    return "TEMP B-TREE" in line or line.lstrip(" ->").startswith(("Sort", "Incremental Sort"))
