"""Several changes in one transaction (group commit) behave as if made one after another."""

from __future__ import annotations

import contextlib
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from hamr.domain.model import ConnectionChange, HamrStatus, KeyKind
from hamr.store.sql import open_store
from tests.conftest import Admin, HamrServer, OrgKeys, connection_body, sqlite_url


def change(status: int, partner_uuid: str) -> ConnectionChange:
    return ConnectionChange(
        hamr_status=HamrStatus(status),
        is_primary=False,
        modified_by="batch@example.com",
        target_org_datacenter="eu1",
        target_org_name="partner",
        target_org_uuid=partner_uuid,
    )


def test_one_org_written_twice_in_a_batch_chains_its_history(admin: Admin) -> None:
    first, second = admin.create_org("us1"), admin.create_org("us1")
    partner = admin.create_org("eu1")
    caller_a = admin.service.identify(first.app_key, KeyKind.APP)
    caller_b = admin.service.identify(second.app_key, KeyKind.APP)
    assert caller_a is not None
    assert caller_b is not None

    stored = admin.service.upsert_connections(
        [
            (caller_a, change(1, partner.uuid)),
            (caller_b, change(2, partner.uuid)),
            (caller_a, change(3, partner.uuid)),
        ]
    )

    assert [c.hamr_status for c in stored] == [1, 2, 3]
    assert stored[0].modified_at_us < stored[2].modified_at_us
    final = admin.connection(first.uuid)
    assert final is not None
    assert final.hamr_status == HamrStatus.FAILOVER
    history = admin.history(first.uuid)
    assert [(h.before and h.before["hamr_status"], h.after["hamr_status"]) for h in history] == [
        (None, 1),
        (1, 3),
    ]
    assert len(admin.history(second.uuid)) == 1


def test_a_write_the_database_refuses_fails_alone(tmp_path: Path) -> None:
    """Concurrent POSTs share one transaction; if the database refuses one of them (here a
    trigger stands in for any constraint), the others are written again without it and
    acknowledged, and only the refused one is answered 500."""
    database = tmp_path / "hamr.db"
    store = open_store(sqlite_url(database))
    admin = Admin(store)
    try:
        partner = admin.create_org("eu1")
        good = [admin.create_org("us1") for _ in range(11)]
        odd = admin.create_org("us1")
        with contextlib.closing(sqlite3.connect(database)) as connection, connection:
            connection.execute(
                "CREATE TRIGGER refuse_poison BEFORE INSERT ON history "
                "WHEN NEW.modified_by = 'poison@example.com' "
                "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )
        server = HamrServer(sqlite_url(database), tmp_path / "server.log").start()
        requests = [(org, connection_body(org, partner)) for org in good]
        requests.insert(5, (odd, connection_body(odd, partner, modified_by="poison@example.com")))
        try:
            with httpx.Client(base_url=server.url, timeout=10) as http:

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
