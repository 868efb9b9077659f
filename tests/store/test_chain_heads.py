"""Chain heads (store/heads.py): a write at the end of a long chain runs the same statements,
with the same plans, as a write at the end of a short one, none of them reading the history;
`hamr history verify` names a chain whose end rows were removed (or added, or rewritten); and
the heads survive an upgrade from 0005, a state dump and load, and a reset. Each test has a
database of its own, on SQLite and on PostgreSQL."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command

from hamr.domain import chain
from hamr.store import history_rows, migrate
from hamr.store.sql import SqlStore, sqlite_file
from hamr.store.tables import chain_heads, history
from tests.conftest import Admin, OrgKeys, run_cli
from tests.store.test_history_chain import change, intact, pair_with_history, principal, verify

# Rows a long chain is given before its write is compared with a short chain's.
LONG = 20_000


@pytest.fixture
def database_url(own_database_url: str) -> str:
    """A new, empty database on each backend (overrides the session's shared one)."""
    return own_database_url


@pytest.fixture
def admin(own_admin: Admin) -> Admin:
    return own_admin


@pytest.fixture
def engine(own_engine: sa.Engine) -> sa.Engine:
    """For reading and tampering with rows as SQL would, behind hamr's back."""
    return own_engine


def rows(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as db:
        return [dict(r._mapping) for r in db.execute(sa.select(history).order_by(history.c.id))]


def heads(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as db:
        return {r.connection_id: dict(r._mapping) for r in db.execute(sa.select(chain_heads))}


def connection_of(admin: Admin, org: OrgKeys) -> str:
    with admin.store.unit_of_work() as uow:
        return uow.repository.links_of([org.uuid])[org.uuid].id


def lengthen(store: SqlStore, connection_id: str, count: int) -> None:
    """Append `count` copies of the chain's newest row through the store, in one transaction."""
    with store.engine.begin() as db:
        newest = db.execute(
            sa.select(history)
            .where(history.c.connection_id == connection_id)
            .order_by(history.c.id.desc())
            .limit(1)
        ).one()
        content = {name: getattr(newest, name) for name in chain.CONTENT_FIELDS}
        history_rows.insert(db, [dict(content) for _ in range(count)])


# -- a write's statements ---------------------------------------------------------------------


@contextmanager
def statements(store: SqlStore) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the store's connections send their driver meanwhile, with its
    parameters (SQLite's trace gives them written into the SQL; None then)."""
    captured: list[tuple[str, Any]] = []

    class Recording(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            captured.append((str(query), params))
            return super().execute(query, params, **kwargs)

        def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> None:
            params = list(params_seq)
            captured.extend((str(query), p) for p in params)
            super().executemany(query, params, **kwargs)

    def checkout(dbapi: Any, *_: Any) -> None:
        if isinstance(dbapi, sqlite3.Connection):
            dbapi.set_trace_callback(lambda sql: captured.append((sql, None)))
        else:
            dbapi.cursor_factory = Recording

    def checkin(dbapi: Any, *_: Any) -> None:
        if isinstance(dbapi, sqlite3.Connection):
            dbapi.set_trace_callback(None)
        else:
            dbapi.cursor_factory = psycopg.Cursor

    sa.event.listen(store.engine, "checkout", checkout)
    sa.event.listen(store.engine, "checkin", checkin)
    try:
        yield captured
    finally:
        sa.event.remove(store.engine, "checkout", checkout)
        sa.event.remove(store.engine, "checkin", checkin)


def shape(sql: str) -> str:
    """A statement without its values (SQLite's trace writes them in)."""
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    return re.sub(r"\b\d+\b", "?", sql)


def plan(store: SqlStore, sql: str, params: Any) -> list[str]:
    """The plan the database has for a statement, one line per step."""
    if store.engine.dialect.name == "sqlite":
        path = sqlite_file(store.engine.url)
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as reader:
            return [str(row[3]) for row in reader.execute(f"EXPLAIN QUERY PLAN {sql}")]
    with store.engine.connect() as db:
        cursor = db.connection.cursor()
        cursor.execute(f"EXPLAIN {sql}", params)
        return [str(row[0]) for row in cursor.fetchall()]


def walks_history(line: str) -> bool:
    """A plan step that reads history rows: SQLite's scans and index ranges (ix_history_
    connection_id_id is how a chain's end used to be found; a search by rowid reads one row),
    and any scan of PostgreSQL's (a write there reads no history row at all)."""
    if not re.search(r"\bhistory\b", line):
        return False
    if line.lstrip(" ->").startswith("Insert on history"):
        return False
    return "SCAN" in line or "Scan" in line or "ix_history" in line


def write_once(admin: Admin, org: OrgKeys, partner: OrgKeys, status: int) -> list[tuple[str, Any]]:
    with statements(admin.store) as captured:
        admin.service.upsert_connections([(principal(admin, org), change(status, partner, True))])
    return captured


def test_a_long_chain_is_written_as_a_short_one_is(admin: Admin, engine: sa.Engine) -> None:
    short, short_partner = admin.create_org("us1"), admin.create_org("eu1")
    long, long_partner = admin.create_org("us1"), admin.create_org("eu1")
    for org, partner in ((short, short_partner), (long, long_partner)):
        admin.service.upsert_connections([(principal(admin, org), change(2, partner, True))])
    lengthen(admin.store, connection_of(admin, long), LONG)
    with engine.begin() as db:  # the planner knows the history is long
        db.execute(sa.text("ANALYZE"))
    for org, partner in ((short, short_partner), (long, long_partner)):
        write_once(admin, org, partner, 4)  # anything read once and cached is read now

    on_short = write_once(admin, short, short_partner, 2)
    on_long = write_once(admin, long, long_partner, 2)

    assert [shape(sql) for sql, _ in on_long] == [shape(sql) for sql, _ in on_short]
    assert any("chain_heads" in sql for sql, _ in on_long), on_long
    for sql, params in on_long:
        if re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", sql, re.IGNORECASE):
            steps = plan(admin.store, sql, params)
            assert not [line for line in steps if walks_history(line)], (sql, steps)
    # The write followed the long chain's end, and every chain verifies.
    report = admin.service.verify_history()
    assert (report.rows, report.broken) == (LONG + 6, None)


def test_the_old_way_of_finding_a_chains_end_is_what_the_plan_check_catches(
    admin: Admin, engine: sa.Engine
) -> None:
    """The check above is not vacuous: the query writes used to run walks the chain."""
    org = pair_with_history(admin, (1, 2))
    lengthen(admin.store, connection_of(admin, org), 500)
    with engine.begin() as db:
        db.execute(sa.text("ANALYZE"))
    connection = connection_of(admin, org)
    newest = sa.select(sa.func.max(history.c.id)).where(history.c.connection_id == connection)
    old = sa.select(history.c.chain_hash).where(history.c.id.in_(newest.scalar_subquery()))
    compiled = old.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
    steps = plan(admin.store, str(compiled), None)
    assert [line for line in steps if walks_history(line)], steps


# -- verify and the chain's end ---------------------------------------------------------------


def test_rows_removed_from_a_chains_end_are_named(
    database_url: str, admin: Admin, engine: sa.Engine
) -> None:
    org = pair_with_history(admin)
    pair_with_history(admin, (1, 2))
    stored = [r for r in rows(engine) if r["connection_id"] == connection_of(admin, org)]
    with engine.begin() as db:
        db.execute(history.delete().where(history.c.id.in_([stored[3]["id"], stored[4]["id"]])))
    said = (
        f"history row {stored[4]['id']} (connection {stored[4]['connection_id']}): missing from "
        f"the end of its chain, which ends at row {stored[2]['id']}; rows were removed from the "
        "chain's end (this row was its newest)"
    )
    assert verify(database_url) == (1, said)
    assert verify(database_url, "--org", org.uuid) == (1, said)


def test_a_chain_with_no_row_left_is_named(
    database_url: str, admin: Admin, engine: sa.Engine
) -> None:
    org = pair_with_history(admin, (1, 2))
    connection = connection_of(admin, org)
    newest = rows(engine)[-1]
    with engine.begin() as db:
        db.execute(history.delete())
    said = (
        f"history row {newest['id']} (connection {connection}): missing from the end of its "
        "chain, which has no rows left; rows were removed from the chain's end (this row was "
        "its newest)"
    )
    assert verify(database_url) == (1, said)
    assert verify(database_url, "--org", org.uuid) == (1, said)


def test_a_row_added_past_the_end_is_named(
    database_url: str, admin: Admin, engine: sa.Engine
) -> None:
    """Added with a hash that follows the chain, as anyone who reads the docs can compute: the
    chain holds, but its end is not the one hamr wrote."""
    pair_with_history(admin, (1, 2))
    newest = rows(engine)[-1]
    added = {name: newest[name] for name in chain.CONTENT_FIELDS}
    added["chain_hash"] = chain.next_hash(newest["chain_hash"], added)
    with engine.begin() as db:
        added_id = db.execute(history.insert().values(added).returning(history.c.id)).scalar_one()
    assert verify(database_url) == (
        1,
        f"history row {added_id} (connection {newest['connection_id']}): past the end of its "
        f"chain (row {newest['id']} is kept as its newest); it was added outside hamr",
    )


def test_a_rewritten_end_is_named(database_url: str, admin: Admin, engine: sa.Engine) -> None:
    """The newest row changed and its hash recomputed: the chain holds, the head does not."""
    pair_with_history(admin, (1, 2))
    before, newest = rows(engine)
    newest["modified_by"] = "someone-else@example.com"
    rehashed = chain.next_hash(before["chain_hash"], newest)
    with engine.begin() as db:
        db.execute(
            history.update()
            .where(history.c.id == newest["id"])
            .values(modified_by=newest["modified_by"], chain_hash=rehashed)
        )
    assert verify(database_url) == (
        1,
        f"history row {newest['id']} (connection {newest['connection_id']}): its chain_hash is "
        "not the one kept for the chain's newest row; the chain was rewritten up to it",
    )


def test_an_unlinked_chain_keeps_its_head(
    database_url: str, admin: Admin, engine: sa.Engine
) -> None:
    org = pair_with_history(admin, (1, 2))
    link = admin.service.pairs.unlink(org.uuid, "moving on")
    unlinked = rows(engine)[-1]
    assert heads(engine)[link.id]["row_id"] == unlinked["id"]
    assert heads(engine)[link.id]["hamr_status"] is None
    assert verify(database_url) == intact(4, 1)
    with engine.begin() as db:
        db.execute(history.delete().where(history.c.id == unlinked["id"]))
    code, said = verify(database_url, "--org", org.uuid)
    assert code == 1
    assert said.startswith(f"history row {unlinked['id']} (connection {link.id}): missing from")


# -- heads made for rows written before them, and kept through state and reset ----------------


def test_the_upgrade_from_0005_makes_the_heads_writes_keep(
    database_url: str, admin: Admin, engine: sa.Engine
) -> None:
    pair_with_history(admin, (1, 2, 2, 3, 4))
    gone = pair_with_history(admin, (1, 2))
    admin.service.pairs.unlink(gone.uuid)
    failed_over = pair_with_history(admin, (2,))
    admin.service.pairs.run(principal(admin, failed_over), "failover", "drill")
    kept = heads(engine)
    assert len(kept) == 3
    command.downgrade(migrate._config(engine), "0005")
    assert not sa.inspect(engine).has_table("chain_heads")

    upgraded = run_cli("db", "upgrade", database_url=database_url)
    assert upgraded.returncode == 0, upgraded.stderr
    assert heads(engine) == kept
    assert verify(database_url) == intact(12, 3)


def test_a_state_load_rebuilds_the_heads_and_a_reset_drops_them(
    admin: Admin, engine: sa.Engine
) -> None:
    org, partner = admin.create_org("us1"), admin.create_org("eu1")
    for status in (1, 2, 3):
        admin.service.upsert_connections([(principal(admin, org), change(status, partner, True))])
    pair_with_history(admin, (2, 2))
    kept = heads(engine)
    state = admin.service.dump_state()
    assert "chain_heads" not in state  # derived from the history, not part of the state
    admin.service.wipe()
    assert heads(engine) == {}
    admin.service.load_state(state)
    assert heads(engine) == kept
    # The next write follows the loaded chain's end.
    admin.service.upsert_connections([(principal(admin, org), change(4, partner, True))])
    assert admin.service.verify_history().broken is None
