"""The upgrade to one connection per pair, on a database made by hamr 0.1.0 (schema 0001;
fixtures/make_hamr_0_1_0.py made it): two rows that point at each other become one pair, the
later write winning and the other kept in history; the rest become one-sided connections."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command

from hamr.store import migrate
from hamr.store.engine import create_engine
from tests import local_http
from tests.conftest import ServeProcess, run_cli, sqlite_url
from tests.postgres import PostgresServer

FIXTURES = Path(__file__).parent / "fixtures"
RELEASE_DB = FIXTURES / "hamr-0.1.0.db"
KEYS: dict[str, dict[str, str]] = json.loads((FIXTURES / "hamr-0.1.0.keys.json").read_text())
UNKNOWN = "99999999-0000-4000-8000-000000000009"
# Parents before children, as 0.1.0's schema has them.
TABLES = ("orgs", "keys", "connections", "history", "epochs")


def release_on_postgresql(postgres: PostgresServer, name: str) -> str:
    """The release's database moved into PostgreSQL at schema 0001, row for row."""
    postgres.create_database(name)
    url = postgres.url_for(name)
    engine = create_engine(url)
    # Read-only and without hamr's engine set-up (which would switch the file to WAL).
    source = sa.create_engine(f"sqlite:///file:{RELEASE_DB}?mode=ro&uri=true")
    try:
        config = migrate._config(engine)
        command.upgrade(config, "0001")
        old = sa.MetaData()
        old.reflect(source)
        with source.connect() as reader, engine.begin() as writer:
            for table in TABLES:
                rows = [dict(r._mapping) for r in reader.execute(sa.select(old.tables[table]))]
                if rows:
                    writer.execute(
                        sa.Table(table, sa.MetaData(), autoload_with=writer).insert(), rows
                    )
            writer.execute(
                sa.text(
                    "SELECT setval(pg_get_serial_sequence('history', 'id'), "
                    "(SELECT max(id) FROM history))"
                )
            )
    finally:
        engine.dispose()
        source.dispose()
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def upgraded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServeProcess]:
    """A server started on the release's database, which it upgrades as it opens it."""
    if request.param == "sqlite":
        copy = tmp_path / "hamr-0.1.0.db"
        shutil.copy(RELEASE_DB, copy)
        url = sqlite_url(copy)
    else:
        url = release_on_postgresql(
            request.getfixturevalue("postgres"), f"release_{uuid.uuid4().hex[:8]}"
        )
    running = ServeProcess(url, tmp_path / "server.log").start()
    yield running
    running.stop()


def read(server: ServeProcess, label: str) -> httpx.Response:
    keys = KEYS[label]
    headers = {"DD-API-KEY": keys["api_key"], "DD-APPLICATION-KEY": keys["app_key"]}
    return local_http.get(f"{server.url}/api/v2/hamr", headers=headers, timeout=10)


def attributes(server: ServeProcess, label: str) -> dict[str, Any]:
    response = read(server, label)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["id"] == KEYS[label]["uuid"]
    return response.json()["data"]["attributes"]  # type: ignore[no-any-return]


def test_rows_that_point_at_each_other_become_one_pair_the_later_write_winning(
    upgraded: ServeProcess,
) -> None:
    alpha, beta = attributes(upgraded, "alpha"), attributes(upgraded, "beta")
    # beta wrote last: FAILOVER, beta not primary, so alpha is.
    for side in (alpha, beta):
        assert (side["hamr_status"], side["modified_by"]) == (3, "beta-sre")
    assert alpha["modified_at"] == beta["modified_at"]
    assert (alpha["is_primary"], beta["is_primary"]) == (True, False)
    assert alpha["target_org_uuid"] == KEYS["beta"]["uuid"]
    # alpha had stored the name it was sent; both sides now read hamr's records.
    assert alpha["target_org_name"] == "Beta Backup"
    assert beta["target_org_name"] == "Alpha Prod"
    assert alpha["OrgDatacenter"] == "eu1.prod.dog"


def test_the_rest_become_one_sided_connections(upgraded: ServeProcess) -> None:
    gamma = attributes(upgraded, "gamma")
    assert (gamma["target_org_uuid"], gamma["target_org_name"]) == (UNKNOWN, "Elsewhere Org")
    assert gamma["target_org_datacenter"] == "eu1"
    delta = attributes(upgraded, "delta")
    assert (delta["target_org_uuid"], delta["hamr_status"]) == (KEYS["epsilon"]["uuid"], 4)
    # epsilon never named delta, so it does not read delta's connection.
    assert read(upgraded, "epsilon").status_code == 404


def test_the_pairs_history_keeps_both_sides_writes(upgraded: ServeProcess) -> None:
    shown = run_cli(
        "history", "--org", KEYS["beta"]["uuid"], "--json", database_url=upgraded.database_url
    )
    assert shown.returncode == 0, shown.stderr
    entries = json.loads(shown.stdout)
    assert [e["modified_by"] for e in entries] == ["alpha-onboarding", "alpha-sre", "beta-sre"]
    assert len({e["connection_id"] for e in entries}) == 1
    assert entries[1]["after"]["target_org_name"] == "Beta (old name)"  # as it was written


def test_an_upgraded_pair_is_written_by_either_side(upgraded: ServeProcess) -> None:
    alpha = KEYS["alpha"]
    body = {
        "data": {
            "id": alpha["uuid"],
            "type": "hamr_org_connections",
            "attributes": {
                "HamrStatus": 4,
                "IsPrimary": True,
                "ModifiedBy": "alpha-sre",
                "TargetOrgUuid": KEYS["beta"]["uuid"],
            },
        }
    }
    headers = {"DD-API-KEY": alpha["api_key"], "DD-APPLICATION-KEY": alpha["app_key"]}
    written = local_http.post(f"{upgraded.url}/api/v2/hamr", json=body, headers=headers, timeout=10)
    assert written.status_code == 200, written.text
    assert attributes(upgraded, "beta")["hamr_status"] == 4
    revision = run_cli("db", "upgrade", database_url=upgraded.database_url)
    assert revision.stdout.strip() == f"database schema at revision {migrate.HEAD_REVISION}"


def test_each_upgraded_connection_knows_its_primary_datacenter(upgraded: ServeProcess) -> None:
    """0008 fills the derived column from the rows: the creator's datacenter when it is the
    primary side, else the target's as stored."""
    engine = create_engine(upgraded.database_url)
    try:
        with engine.connect() as db:
            rows = db.execute(
                sa.text(
                    "SELECT c.primary_datacenter, c.org_is_primary, o.datacenter,"
                    " c.target_org_datacenter"
                    " FROM connections c JOIN orgs o ON o.uuid = c.org_uuid"
                )
            ).all()
    finally:
        engine.dispose()
    assert rows
    for stored, org_is_primary, own, target in rows:
        assert stored == (own if org_is_primary else target) != ""
