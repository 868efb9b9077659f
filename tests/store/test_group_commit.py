"""Several changes in one transaction (group commit) behave as if made one after another."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from hamr.domain.errors import WriteConflict
from hamr.domain.model import ConnectionChange, HamrStatus, KeyKind
from hamr.server.writer import GroupCommitWriter
from hamr.store.sql import open_store
from tests import local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body, sqlite_url, unknown_org
from tests.postgres import PostgresServer


def change(status: int, partner: OrgKeys, is_primary: bool = False) -> ConnectionChange:
    return ConnectionChange(
        hamr_status=HamrStatus(status),
        is_primary=is_primary,
        modified_by="batch@example.com",
        target_org_datacenter=partner.datacenter,
        target_org_name=partner.name,
        target_org_uuid=partner.uuid,
    )


def test_one_org_written_twice_in_a_batch_chains_its_history(admin: Admin) -> None:
    first, second = admin.create_org("us1"), admin.create_org("us1")
    partner = unknown_org("eu1")  # one-sided connections: both may name it
    caller_a = admin.service.identify(first.app_key, KeyKind.APP)
    caller_b = admin.service.identify(second.app_key, KeyKind.APP)
    assert caller_a is not None
    assert caller_b is not None

    stored = admin.service.upsert_connections(
        [
            (caller_a, change(1, partner)),
            (caller_b, change(2, partner)),
            (caller_a, change(3, partner)),
        ]
    )

    assert [c.view.hamr_status for c in stored] == [1, 2, 3]
    assert stored[0].after.modified_at_us < stored[2].after.modified_at_us
    assert stored[0].after.id == stored[2].after.id != stored[1].after.id
    final = admin.connection(first.uuid)
    assert final is not None
    assert final.hamr_status == HamrStatus.FAILOVER
    history = admin.history(first.uuid)
    assert [h.before and h.before["hamr_status"] for h in history] == [None, 1]
    assert [h.after and h.after["hamr_status"] for h in history] == [1, 3]
    assert len(admin.history(second.uuid)) == 1


def test_both_sides_of_a_pair_written_in_one_batch_chain_one_history(admin: Admin) -> None:
    """The pair's one connection, written by either side within one transaction, is saved
    once as its last write, and its history chains through both sides' rows."""
    org, partner = admin.create_org("us1"), admin.create_org("eu1")
    caller_org = admin.service.identify(org.app_key, KeyKind.APP)
    caller_partner = admin.service.identify(partner.app_key, KeyKind.APP)
    assert caller_org is not None
    assert caller_partner is not None

    stored = admin.service.upsert_connections(
        [
            (caller_org, change(1, partner, is_primary=True)),
            (caller_partner, change(2, org, is_primary=False)),
            (caller_org, change(3, partner, is_primary=False)),
        ]
    )

    assert len({c.after.id for c in stored}) == 1
    assert [(c.org_uuid, c.view.hamr_status, c.view.is_primary) for c in stored] == [
        (org.uuid, 1, True),
        (partner.uuid, 2, False),
        (org.uuid, 3, False),
    ]
    assert stored[0].after.modified_at_us < stored[1].after.modified_at_us
    assert stored[1].after.modified_at_us < stored[2].after.modified_at_us
    by_org, by_partner = admin.connection(org.uuid), admin.connection(partner.uuid)
    assert by_org == stored[2].view
    assert by_partner == stored[2].after.view_of(partner.uuid)
    assert by_partner is not None
    assert (by_partner.hamr_status, by_partner.is_primary) == (HamrStatus.FAILOVER, True)
    assert (by_partner.target_org_uuid, by_partner.target_org_name) == (org.uuid, org.name)
    history = admin.history(org.uuid)
    assert history == admin.history(partner.uuid)
    # Each row as its writer saw the connection: before it, and after.
    assert [(h.org_uuid, h.before, h.after) for h in history] == [
        (org.uuid, None, stored[0].view.attributes()),
        (
            partner.uuid,
            stored[0].after.view_of(partner.uuid).attributes(),
            stored[1].view.attributes(),
        ),
        (
            org.uuid,
            stored[1].after.view_of(org.uuid).attributes(),
            stored[2].view.attributes(),
        ),
    ]


def test_a_write_the_database_refuses_fails_alone(tmp_path: Path) -> None:
    """Concurrent POSTs share one transaction; if the database refuses one of them (here a
    trigger stands in for any constraint), the others are written again without it and
    acknowledged, and only the refused one is answered 500."""
    database = tmp_path / "hamr.db"
    store = open_store(sqlite_url(database))
    admin = Admin(store)
    try:
        partner = unknown_org("eu1")  # one-sided connections: all may name it
        good = [admin.create_org("us1") for _ in range(11)]
        odd = admin.create_org("us1")
        with contextlib.closing(sqlite3.connect(database)) as connection, connection:
            connection.execute(
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON history "
                "WHEN NEW.modified_by = 'poison@example.com' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        server = ServeProcess(sqlite_url(database), tmp_path / "server.log").start()
        requests = [(org, connection_body(org, partner)) for org in good]
        requests.insert(5, (odd, connection_body(odd, partner, modified_by="poison@example.com")))
        try:
            with local_http.client(base_url=server.url, timeout=10) as http:

                def send(item: tuple[OrgKeys, dict[str, Any]]) -> httpx.Response:
                    org, body = item
                    return http.post("/api/v2/hamr", json=body, headers=org.headers)

                for _ in range(4):  # rounds, so that the odd one lands in shared batches
                    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
                        responses = list(pool.map(send, requests))
                    statuses = {
                        org.uuid: r.status_code
                        for (org, _), r in zip(requests, responses, strict=True)
                    }
                    assert statuses.pop(odd.uuid) == 500
                    assert set(statuses.values()) == {200}
        finally:
            server.stop()
        for org in good:
            assert len(admin.history(org.uuid)) == 4
        assert admin.connection(odd.uuid) is None
        assert admin.history(odd.uuid) == []
    finally:
        store.close()


def test_a_pair_conflict_in_a_batch_fails_alone(
    server: ServeProcess, admin: Admin, http: httpx.Client
) -> None:
    """A write that would take an organization already paired is refused with 409 alone: the
    writes batched with it are acknowledged, and the pair it named is left as it was."""
    org, partner = admin.create_org("us1"), admin.create_org("eu1")
    paired = http.post("/api/v2/hamr", json=connection_body(org, partner), headers=org.headers)
    assert paired.status_code == 200, paired.text
    pair_before = admin.snapshot(org.uuid), admin.snapshot(partner.uuid)
    elsewhere = unknown_org("eu1")  # one-sided connections: all the good ones may name it
    good = [admin.create_org("us1") for _ in range(11)]
    intruder = admin.create_org("us1")
    requests = [(o, connection_body(o, elsewhere)) for o in good]
    requests.insert(5, (intruder, connection_body(intruder, partner)))

    def send(item: tuple[OrgKeys, dict[str, Any]]) -> httpx.Response:
        org, body = item
        return http.post("/api/v2/hamr", json=body, headers=org.headers)

    for _ in range(4):  # rounds, so that the intruder lands in shared batches
        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            responses = list(pool.map(send, requests))
        by_org = {org.uuid: r for (org, _), r in zip(requests, responses, strict=True)}
        refused = by_org.pop(intruder.uuid)
        assert refused.status_code == 409, refused.text
        (error,) = refused.json()["errors"]
        assert error["source"] == {"pointer": "/data/attributes/target_org_uuid"}
        assert partner.uuid in error["detail"]
        assert {r.status_code for r in by_org.values()} == {200}
    for o in good:
        assert len(admin.history(o.uuid)) == 4
    assert admin.connection(intruder.uuid) is None
    assert admin.history(intruder.uuid) == []
    assert (admin.snapshot(org.uuid), admin.snapshot(partner.uuid)) == pair_before


def test_a_conflict_postgresql_reports_is_a_write_conflict_that_stores_nothing(
    postgres: PostgresServer,
) -> None:
    """PostgreSQL fails a transaction that lost a race (serialization_failure, deadlock) and
    the writer runs it again (WriteConflict). The write's statements go to the driver
    directly, so the driver's own error must be recognised too: here a trigger fails the
    first attempt."""
    postgres.create_database("hamr_conflicts")
    store = open_store(postgres.url_for("hamr_conflicts"))
    admin = Admin(store)
    try:
        org, partner = admin.create_org("us1"), unknown_org("eu1")
        with store.engine.begin() as db:
            db.exec_driver_sql("CREATE SEQUENCE attempts")
            db.exec_driver_sql(
                "CREATE FUNCTION lose_once() RETURNS trigger AS $$ BEGIN "
                "IF nextval('attempts') = 1 THEN "  # a sequence moves even when rolled back
                "RAISE EXCEPTION 'lost a race' USING ERRCODE = 'serialization_failure'; "
                "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            db.exec_driver_sql(
                "CREATE TRIGGER lose_once BEFORE INSERT ON history "
                "FOR EACH ROW EXECUTE FUNCTION lose_once()"
            )
        caller = admin.service.identify(org.app_key, KeyKind.APP)
        assert caller is not None

        with pytest.raises(WriteConflict):
            admin.service.upsert_connections([(caller, change(1, partner))])
        assert admin.history(org.uuid) == []
        (stored,) = admin.service.upsert_connections([(caller, change(1, partner))])

        assert [entry.id for entry in admin.history(org.uuid)] == [stored.history_id]
    finally:
        store.close()


def test_a_write_the_database_refuses_shares_a_batch_and_fails_alone(tmp_path: Path) -> None:
    """The writer itself, on a real SQLite file: twelve writes sent at once go to the database
    together, the trigger refuses the odd one (so the shared transaction fails whole), and the
    writer writes each again alone: eleven stored, one refused."""
    database = tmp_path / "hamr.db"
    store = open_store(sqlite_url(database))
    admin = Admin(store)
    try:
        partner = unknown_org("eu1")
        orgs = [admin.create_org("us1") for _ in range(12)]
        with contextlib.closing(sqlite3.connect(database)) as connection, connection:
            connection.execute(
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON history "
                "WHEN NEW.modified_by = 'poison@example.com' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        service = admin.service
        batches: list[list[str]] = []
        upsert = service.upsert_connections

        def recorded(upserts: Any, **kwargs: Any) -> Any:
            batches.append([principal.org.uuid for principal, _ in upserts])
            return upsert(upserts, **kwargs)

        service.upsert_connections = recorded  # type: ignore[method-assign]
        odd = orgs[5]
        changes = [
            (caller, replace(change(2, partner), modified_by="poison@example.com"))
            if org is odd
            else (caller, change(2, partner))
            for org in orgs
            if (caller := service.identify(org.app_key, KeyKind.APP)) is not None
        ]

        async def write_all() -> list[object]:
            writer = GroupCommitWriter(service)
            writer.start()
            try:
                writes = [writer.write(caller, c) for caller, c in changes]
                return await asyncio.gather(*writes, return_exceptions=True)
            finally:
                await writer.stop()

        outcomes = asyncio.run(write_all())

        assert [isinstance(o, Exception) for o in outcomes] == [org is odd for org in orgs]
        shared = [batch for batch in batches if odd.uuid in batch and len(batch) > 1]
        assert shared, batches  # it was batched with others, and failed them not
        assert [len(admin.history(org.uuid)) for org in orgs] == [int(o is not odd) for o in orgs]
    finally:
        store.close()
