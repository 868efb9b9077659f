"""The history's hash chain: every row's chain_hash follows the previous row of its connection
(POSTs, group-commit batches, unlinks, and rows 0005 chained on upgrade), `hamr history verify`
recomputes it, and a row changed, removed or moved through SQL is named. Each test has a
database of its own, on SQLite and on PostgreSQL, so that nothing else writes there."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from hamr.domain import chain
from hamr.domain.model import ConnectionChange, HamrStatus, KeyKind, Principal
from hamr.store.engine import create_engine
from hamr.store.tables import history
from hamr.usecases import history_log
from tests import local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body, run_cli, sqlite_url
from tests.store.test_upgrade import KEYS, RELEASE_DB, release_on_postgresql

GENESIS = "0" * 64
RELEASE_DIGEST = hashlib.sha256(RELEASE_DB.read_bytes()).hexdigest()


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


def recomputed(stored: list[dict[str, Any]]) -> dict[int, str]:
    """The documented chain, computed here without hamr's code: per connection in id order,
    sha256 over the previous row's hash (or 64 zeros), a line feed, and the row's columns but
    id and chain_hash as JSON with sorted keys and no spaces."""
    last: dict[str, str] = {}
    hashes = {}
    for row in sorted(stored, key=lambda r: r["id"]):
        content = {k: v for k, v in row.items() if k not in ("id", "chain_hash")}
        encoded = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
        previous = last.get(row["connection_id"], GENESIS)
        hashes[row["id"]] = last[row["connection_id"]] = hashlib.sha256(
            previous.encode() + b"\n" + encoded
        ).hexdigest()
    return hashes


def assert_chained(engine: sa.Engine) -> list[dict[str, Any]]:
    stored = rows(engine)
    assert stored
    assert {r["id"]: r["chain_hash"] for r in stored} == recomputed(stored)
    return stored


def verify(database_url: str, *args: str) -> tuple[int, str]:
    done = run_cli("history", "verify", *args, database_url=database_url)
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, done.stdout.strip()


def intact(rows: int, connections: int) -> tuple[int, str]:
    """What verify answers when every chain holds."""
    plural = {True: "s", False: ""}
    return (
        0,
        f"verified {rows} history row{plural[rows != 1]} in {connections} "
        f"connection{plural[connections != 1]}: every chain is intact",
    )


def principal(admin: Admin, org: OrgKeys) -> Principal:
    found = admin.service.identify(org.app_key, KeyKind.APP)
    assert found is not None
    return found


def change(status: int, partner: OrgKeys, is_primary: bool) -> ConnectionChange:
    return ConnectionChange(
        hamr_status=HamrStatus(status),
        is_primary=is_primary,
        modified_by="chain@example.com",
        target_org_datacenter=partner.datacenter,
        target_org_name=partner.name,
        target_org_uuid=partner.uuid,
    )


def pair_with_history(admin: Admin, statuses: tuple[int, ...] = (1, 2, 3, 4, 5)) -> OrgKeys:
    """An org linked with a partner, and one history row per status, the sides in turn."""
    org, partner = admin.create_org("us1"), admin.create_org("eu1")
    for turn, status in enumerate(statuses):
        writer, other = (org, partner) if turn % 2 == 0 else (partner, org)
        admin.service.upsert_connections(
            [(principal(admin, writer), change(status, other, writer is org))]
        )
    return org


def test_the_content_is_every_column_but_id_and_chain_hash() -> None:
    assert set(chain.CONTENT_FIELDS) == {c.name for c in history.c} - {"id", "chain_hash"}


def test_posts_through_a_server_are_chained_and_verify(
    database_url: str, admin: Admin, engine: sa.Engine, tmp_path: Path
) -> None:
    org, partner = admin.create_org("us1"), admin.create_org("eu1")
    elsewhere = admin.create_org("ap1")
    server = ServeProcess(database_url, tmp_path / "server.log").start()
    try:
        with local_http.client(base_url=server.url, timeout=10) as http:
            for status, (writer, other) in zip(
                (1, 2, 3, 4), [(org, partner), (partner, org)] * 2, strict=True
            ):
                body = connection_body(writer, other, hamr_status=status)
                written = http.post("/api/v2/hamr", json=body, headers=writer.headers)
                assert written.status_code == 200, written.text
            body = connection_body(elsewhere, partner, target_org_uuid=str(uuid.uuid4()))
            assert (
                http.post("/api/v2/hamr", json=body, headers=elsewhere.headers).status_code == 200
            )
    finally:
        server.stop()
    stored = assert_chained(engine)
    assert len({r["connection_id"] for r in stored}) == 2
    assert stored[0]["chain_hash"] != stored[-1]["chain_hash"]
    assert verify(database_url) == intact(5, 2)
    assert verify(database_url, "--org", org.uuid) == intact(4, 1)


def test_a_batch_holding_several_rows_of_one_connection_chains_them_in_order(
    database_url: str, admin: Admin, engine: sa.Engine
) -> None:
    org, partner = admin.create_org("us1"), admin.create_org("eu1")
    other, its_partner = admin.create_org("us1"), admin.create_org("eu1")
    admin.service.upsert_connections([(principal(admin, org), change(1, partner, True))])
    # One transaction: both sides of one pair in turn, and another pair's first rows between.
    admin.service.upsert_connections(
        [
            (principal(admin, partner), change(2, org, False)),
            (principal(admin, other), change(1, its_partner, True)),
            (principal(admin, org), change(3, partner, True)),
            (principal(admin, its_partner), change(2, other, False)),
            (principal(admin, partner), change(4, org, False)),
        ]
    )
    stored = assert_chained(engine)
    by_connection: dict[str, list[int]] = {}
    for row in stored:
        by_connection.setdefault(row["connection_id"], []).append(row["after"]["hamr_status"])
    assert sorted(by_connection.values()) == [[1, 2], [1, 2, 3, 4]]
    assert verify(database_url) == intact(6, 2)


def test_unlink_rows_are_chained_and_a_new_link_starts_a_chain(
    database_url: str, admin: Admin, engine: sa.Engine
) -> None:
    org = pair_with_history(admin, (1, 2))
    link = admin.service.pairs.unlink(org.uuid)
    stored = assert_chained(engine)
    assert [r["after"] is None for r in stored] == [False, False, True, True]
    assert {r["connection_id"] for r in stored} == {link.id}
    # Linked anew: a new connection, whose chain starts at the genesis value.
    partner = link.other(org.uuid)
    keys = OrgKeys(partner.uuid, partner.name, partner.datacenter, "", "")
    admin.service.upsert_connections([(principal(admin, org), change(1, keys, True))])
    stored = assert_chained(engine)
    newest = stored[-1]
    assert newest["connection_id"] != link.id
    assert newest["chain_hash"] == chain.next_hash(GENESIS, newest)
    assert verify(database_url, "--org", org.uuid) == intact(5, 2)


def test_a_status_changed_in_after_is_named(
    database_url: str, admin: Admin, engine: sa.Engine
) -> None:
    org = pair_with_history(admin)
    stored = rows(engine)
    target = stored[2]
    after = {**target["after"], "hamr_status": 4}
    with engine.begin() as db:
        db.execute(history.update().where(history.c.id == target["id"]).values(after=after))
    code, said = verify(database_url)
    assert code == 1
    assert said == (
        f"history row {target['id']} (connection {target['connection_id']}): content changed; "
        f"it no longer matches its chain_hash (no row is missing between it and row "
        f"{stored[1]['id']})"
    )
    assert verify(database_url, "--org", org.uuid) == (code, said)


def test_a_deleted_middle_row_is_named(database_url: str, admin: Admin, engine: sa.Engine) -> None:
    pair_with_history(admin)
    stored = rows(engine)
    removed = stored[2]
    with engine.begin() as db:
        db.execute(history.delete().where(history.c.id == removed["id"]))
    code, said = verify(database_url)
    assert code == 1
    assert said == (
        f"history row {stored[3]['id']} (connection {removed['connection_id']}): row missing "
        f"before it; it does not follow row {stored[1]['id']}, and 1 id(s) between them are in "
        "no history row (or this row's content was changed)"
    )


def test_a_deleted_first_row_is_named(database_url: str, admin: Admin, engine: sa.Engine) -> None:
    pair_with_history(admin, (1, 2))
    first, second = rows(engine)
    with engine.begin() as db:
        db.execute(history.delete().where(history.c.id == first["id"]))
    code, said = verify(database_url)
    assert code == 1
    assert said.startswith(f"history row {second['id']} (connection {second['connection_id']}): ")
    assert "row missing before it; it does not follow the start of the chain" in said


def test_rows_moved_out_of_order_are_named(
    database_url: str, admin: Admin, engine: sa.Engine
) -> None:
    pair_with_history(admin)
    stored = rows(engine)
    second, third = stored[1]["id"], stored[2]["id"]
    # Swap two rows' ids, their content and hashes untouched.
    with engine.begin() as db:
        db.execute(history.update().where(history.c.id == second).values(id=-1))
        db.execute(history.update().where(history.c.id == third).values(id=second))
        db.execute(history.update().where(history.c.id == -1).values(id=third))
    code, said = verify(database_url)
    assert code == 1
    assert said == (
        f"history row {second} (connection {stored[1]['connection_id']}): out of order; its "
        f"chain_hash follows row {third}, but it comes after row {stored[0]['id']}"
    )


def test_a_row_without_a_hash_is_named(database_url: str, admin: Admin, engine: sa.Engine) -> None:
    pair_with_history(admin, (1, 2))
    last = rows(engine)[-1]
    with engine.begin() as db:
        db.execute(history.update().where(history.c.id == last["id"]).values(chain_hash=None))
    code, said = verify(database_url)
    assert (code, said) == (
        1,
        f"history row {last['id']} (connection {last['connection_id']}): no chain_hash; it was "
        "written outside hamr's chain",
    )


def test_verify_for_an_org_checks_its_connections_only(
    database_url: str, admin: Admin, engine: sa.Engine
) -> None:
    org = pair_with_history(admin, (1, 2, 3))
    other = pair_with_history(admin, (1, 2))
    tampered = next(r for r in rows(engine) if r["org_uuid"] == other.uuid)
    with engine.begin() as db:
        db.execute(
            history.update().where(history.c.id == tampered["id"]).values(modified_by="mallory")
        )
    assert verify(database_url, "--org", org.uuid) == intact(3, 1)
    code, said = verify(database_url, "--org", other.uuid)
    assert code == 1
    assert said.startswith(f"history row {tampered['id']} ")
    assert verify(database_url)[0] == 1


def test_verify_an_unknown_org_is_an_operator_error(database_url: str, admin: Admin) -> None:
    unknown = str(uuid.uuid4())
    done = run_cli("history", "verify", "--org", unknown, database_url=database_url)
    assert done.returncode == 2
    assert done.stderr.strip() == f"Error: no organization with UUID {unknown}"


def test_an_empty_history_verifies(database_url: str, admin: Admin) -> None:
    org = admin.create_org("us1")
    assert verify(database_url) == intact(0, 0)
    assert verify(database_url, "--org", org.uuid)[0] == 0


def test_a_long_chain_is_walked_in_chunks(
    database_url: str, admin: Admin, engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More rows than one unit of work reads: the walk carries the chain across chunks."""
    monkeypatch.setattr(history_log, "CHUNK", 3)
    org = pair_with_history(admin, (1, 2, 3, 4, 5, 2, 3))
    pair_with_history(admin, (1, 2))
    report = admin.service.verify_history()
    assert (report.rows, report.connections, report.broken) == (9, 2, None)
    stored = rows(engine)
    with engine.begin() as db:
        db.execute(history.delete().where(history.c.id == stored[5]["id"]))
    broken = admin.service.verify_history(org.uuid).broken
    assert broken is not None
    assert (broken.row_id, broken.kind, broken.previous_id) == (
        stored[6]["id"],
        chain.BreakKind.MISSING,
        stored[4]["id"],
    )


# -- the upgrade from 0.1.0 -----------------------------------------------------------------


@pytest.fixture
def release_url(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> str:
    """hamr 0.1.0's database, not yet upgraded (a copy: the fixture file stays untouched)."""
    if database_url.startswith("sqlite"):
        copy = tmp_path / "hamr-0.1.0.db"
        shutil.copy(RELEASE_DB, copy)
        return sqlite_url(copy)
    return release_on_postgresql(
        request.getfixturevalue("postgres"), f"release_{uuid.uuid4().hex[:8]}"
    )


def test_the_upgrade_chains_the_rows_a_release_wrote(release_url: str, tmp_path: Path) -> None:
    upgraded = run_cli("db", "upgrade", database_url=release_url)
    assert upgraded.returncode == 0, upgraded.stderr
    engine = create_engine(release_url)
    try:
        stored = assert_chained(engine)
        assert [r["id"] for r in stored] == [1, 2, 3, 4, 5]
        assert len({r["connection_id"] for r in stored}) == 3  # the pair's three, two one-sided
        assert verify(release_url) == intact(5, 3)
        # A write after the upgrade follows the chain the migration made.
        alpha, beta = KEYS["alpha"], KEYS["beta"]
        server = ServeProcess(release_url, tmp_path / "server.log").start()
        try:
            body = {
                "data": {
                    "id": alpha["uuid"],
                    "type": "hamr_org_connections",
                    "attributes": {
                        "HamrStatus": 4,
                        "IsPrimary": True,
                        "ModifiedBy": "alpha-sre",
                        "TargetOrgUuid": beta["uuid"],
                    },
                }
            }
            headers = {"DD-API-KEY": alpha["api_key"], "DD-APPLICATION-KEY": alpha["app_key"]}
            written = local_http.post(f"{server.url}/api/v2/hamr", json=body, headers=headers)
            assert written.status_code == 200, written.text
        finally:
            server.stop()
        stored = assert_chained(engine)
        assert stored[-1]["chain_hash"] == chain.next_hash(stored[2]["chain_hash"], stored[-1])
        assert verify(release_url, "--org", beta["uuid"]) == intact(4, 1)
    finally:
        engine.dispose()
    assert hashlib.sha256(RELEASE_DB.read_bytes()).hexdigest() == RELEASE_DIGEST
