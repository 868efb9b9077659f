"""`hamr db copy` moves everything between SQLite and PostgreSQL, and back, losing nothing."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from hamr.domain.model import KeyKind
from hamr.settings import Settings
from hamr.store.sql import open_store
from hamr.usecases.service import HamrService
from tests import local_http
from tests.conftest import OrgKeys, ServeProcess, connection_body, run_cli, sqlite_url, unknown_org
from tests.postgres import PostgresServer

PATH = "/api/v2/hamr"


def everything(database_url: str) -> dict[str, Any]:
    """All that a copy must carry, in comparable form."""
    store = open_store(database_url)
    try:
        service = HamrService(store.unit_of_work, store.view, Settings().datacenters)
        orgs = service.list_orgs()
        with store.unit_of_work() as uow:  # the stored connections, ids and all
            links = uow.repository.links_of([o.uuid for o in orgs])
        return {
            "orgs": orgs,
            "keys": [service.list_keys(o.uuid) for o in orgs],
            "links": links,
            "connections": [store.view.connection(o.uuid) for o in orgs],
            "history": [service.history(o.uuid) for o in orgs],
            "epoch": store.view.credentials_epoch(),
        }
    finally:
        store.close()


def test_sqlite_to_postgresql_and_back(postgres: PostgresServer, tmp_path: Path) -> None:
    origin = sqlite_url(tmp_path / "origin.db")
    store = open_store(origin)
    try:
        service = HamrService(store.unit_of_work, store.view, Settings().datacenters)
        made = [service.create_org(f"copy {i}", dc) for i, dc in enumerate(["us1", "eu1"] * 3)]
        service.revoke_key(service.list_keys(made[0][0].uuid)[0].id)
        service.create_key(made[1][0].uuid, KeyKind.TOKEN)
    finally:
        store.close()
    keys = [OrgKeys(o.uuid, o.name, o.datacenter, a, b) for o, a, b in made]
    org, partner = keys[2:4]
    server = ServeProcess(origin, tmp_path / "origin.log").start()
    try:
        with local_http.client(base_url=server.url, headers=org.headers, timeout=10) as client:
            for status in (1, 2, 4):  # a pair: org and partner both read its one connection
                body = connection_body(org, partner, hamr_status=status)
                assert client.post(PATH, json=body).status_code == 200
            # A one-sided connection, to an org hamr does not know.
            body = connection_body(keys[4], unknown_org("eu1"))
            assert client.post(PATH, json=body, headers=keys[4].headers).status_code == 200
            # A pair made and then unlinked: a connection no longer stored, an `after` of null.
            body = connection_body(keys[1], keys[0])
            assert client.post(PATH, json=body, headers=keys[1].headers).status_code == 200
    finally:
        server.stop()
    store = open_store(origin)
    try:
        HamrService(store.unit_of_work, store.view, Settings().datacenters).pairs.unlink(
            keys[1].uuid
        )
    finally:
        store.close()
    carried = everything(origin)
    assert sorted(link.linked for link in carried["links"].values()) == [False, True, True]
    assert carried["connections"][:2] == [None, None]
    unlinked = [e for e in carried["history"][1] if e.after is None]
    assert unlinked, carried["history"][1]
    assert all(e.connection_id is not None for e in unlinked)
    history_rows = len({e.id for rows in carried["history"] for e in rows})

    name = f"copy_{uuid.uuid4().hex[:8]}"
    postgres.create_database(name)
    middle, back = postgres.url_for(name), sqlite_url(tmp_path / "back.db")
    for source, target in ((origin, middle), (middle, back)):
        result = run_cli("db", "copy", "--from", source, "--to", target)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == (
            "copied 6 orgs, 13 keys, 2 connections, 3 connection_members, "
            f"{history_rows} history, 3 chain_heads, 1 epochs"
        ), result.stdout
        assert everything(target) == carried

    # The copy serves: the keys work, the pair is one, and history goes on from where it was.
    server = ServeProcess(middle, tmp_path / "middle.log").start()
    try:
        with local_http.client(base_url=server.url, headers=org.headers, timeout=10) as client:
            assert client.get(PATH).json()["data"]["attributes"]["hamr_status"] == 4
            body = connection_body(org, partner, hamr_status=5)
            assert client.post(PATH, json=body).status_code == 200
            read = client.get(PATH, headers=partner.headers).json()["data"]["attributes"]
            assert (read["hamr_status"], read["target_org_uuid"]) == (5, org.uuid)
    finally:
        server.stop()
    copied = everything(middle)
    assert [len(h) for h in copied["history"]] == [
        len(h) + (i in (2, 3)) for i, h in enumerate(carried["history"])
    ]
    assert copied["history"][2][-1].connection_id == carried["links"][org.uuid].id


def test_copy_refuses_a_target_that_has_data(tmp_path: Path) -> None:
    first, second = sqlite_url(tmp_path / "a.db"), sqlite_url(tmp_path / "b.db")
    for url in (first, second):
        created = run_cli("org", "create", "--name", "x", "--datacenter", "us1", database_url=url)
        assert created.returncode == 0
    result = run_cli("db", "copy", "--from", first, "--to", second)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Error: the target database already holds organizations; copy into an empty one"
    )


NOT_COPYABLE = [
    ("missing file, absolute path", "ABSOLUTE", "{tmp}/old.db"),
    ("missing file, relative path", "sqlite:///./old.db", "./old.db"),
    ("missing file, URI filename", "sqlite:///file:old.db?uri=true", "old.db"),
    ("in-memory database", "sqlite:///:memory:", "sqlite:///:memory:"),
    ("no database at all", "sqlite://", "sqlite://"),
]


@pytest.mark.parametrize(
    ("source", "named"),
    [(source, named) for _, source, named in NOT_COPYABLE],
    ids=[case for case, *_ in NOT_COPYABLE],
)
@pytest.mark.parametrize("target_exists", [False, True], ids=["new target", "existing target"])
def test_copy_from_a_source_that_does_not_exist_fails_and_creates_nothing(
    tmp_path: Path, source: str, named: str, target_exists: bool
) -> None:
    """open_store creates a missing SQLite file, so copying from a mistyped path used to make
    an empty source and "copy" nothing; the operator must hear that the source is not there."""
    target = tmp_path / "target" / "new.db"
    target.parent.mkdir()
    if target_exists:
        created = run_cli("org", "create", "--name", "x", "--datacenter", "us1",
                          database_url=sqlite_url(target))  # fmt: skip
        assert created.returncode == 0, created.stderr
    before = {path.name: path.read_bytes() for path in target.parent.iterdir()}
    work = tmp_path / "work"
    work.mkdir()
    source = sqlite_url(work / "old.db") if source == "ABSOLUTE" else source

    result = run_cli("db", "copy", "--from", source, "--to", sqlite_url(target), cwd=work)

    assert result.returncode == 2, f"{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert named.format(tmp=work) in lines[0], lines[0]
    assert "--from must name an existing hamr database" in lines[0], lines[0]
    assert result.stdout == ""
    assert list(work.iterdir()) == []  # no source file, nor its -wal or -shm
    assert {path.name: path.read_bytes() for path in target.parent.iterdir()} == before
