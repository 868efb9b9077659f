"""The connection cache across processes, on SQLite and PostgreSQL: another process's write
drops only the orgs it changed and is seen within one poll; this process's writes leave other
orgs' entries alone; history ids that commit out of order on PostgreSQL are not missed; the
least recently read entry is the one forgotten."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from hamr.domain.model import Connection, HamrStatus, KeyKind
from hamr.store.sql import open_store
from hamr.store.tables import history
from hamr.usecases.caches import Fills, LruDict
from hamr.usecases.service import HamrService
from tests import local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body, serving
from tests.postgres import PostgresServer

PATH = "/api/v2/hamr"


@pytest.fixture(scope="module")
def other_server(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    """A second `hamr serve` on the suite's database: another process writing."""
    yield from serving(database_url, tmp_path_factory, "--log-level", "warning")


def cache_metrics(server: ServeProcess) -> dict[tuple[str, str], int]:
    """hamr_cache_requests_total by (cache, result), as the server counts them now."""
    text = local_http.get(f"{server.url}/metrics").text
    found = re.findall(
        r'^hamr_cache_requests_total\{cache="(\w+)",result="(\w+)"\} (\S+)$', text, re.MULTILINE
    )
    return {(cache, result): int(float(value)) for cache, result, value in found}


def cache_counts(server: ServeProcess) -> dict[str, int]:
    """The connections cache's hits and misses."""
    counts = cache_metrics(server)
    return {result: counts.get(("connections", result), 0) for result in ("hit", "miss")}


def linked(admin: Admin, server: ServeProcess, status: int = 2) -> tuple[OrgKeys, OrgKeys]:
    org, partner = admin.create_org("us1"), admin.create_org("eu1")
    body = connection_body(org, partner, hamr_status=status)
    answer = local_http.post(f"{server.url}{PATH}", json=body, headers=org.headers)
    assert answer.status_code == 200, answer.text
    return org, partner


def status_at(server: ServeProcess, org: OrgKeys) -> int:
    answer = local_http.get(f"{server.url}{PATH}", headers=org.headers)
    assert answer.status_code == 200, answer.text
    return int(answer.json()["data"]["attributes"]["hamr_status"])


def test_another_processs_write_is_seen_within_a_poll_and_drops_only_its_orgs(
    admin: Admin, server: ServeProcess, other_server: ServeProcess
) -> None:
    written, written_partner = linked(admin, server)
    bystander, bystander_partner = linked(admin, server)
    for org in (written, written_partner, bystander, bystander_partner):
        assert status_at(server, org) == 2  # all cached now
    before = cache_counts(server)
    body = connection_body(written, written_partner, hamr_status=3, is_primary=False)
    answer = local_http.post(f"{other_server.url}{PATH}", json=body, headers=written.headers)
    assert answer.status_code == 200, answer.text
    written_at = time.monotonic()
    while status_at(server, written_partner) != 3:
        assert time.monotonic() - written_at < 0.25, "not seen within 0.25 s"
        time.sleep(0.01)
    time.sleep(0.25)  # every poll that could have dropped more has run
    reads_before = cache_counts(server)
    assert status_at(server, bystander) == 2
    assert status_at(server, bystander_partner) == 2
    assert status_at(server, written) == 3
    after = cache_counts(server)
    assert after["hit"] - reads_before["hit"] == 2  # the bystanders stayed cached
    assert after["miss"] - reads_before["miss"] == 1  # the writer's side was dropped
    assert reads_before["miss"] - before["miss"] == 1  # and so was its partner's


def test_this_processs_writes_leave_other_orgs_cached(admin: Admin, server: ServeProcess) -> None:
    bystanders = [org for _ in range(3) for org in linked(admin, server)]
    for org in bystanders:
        status_at(server, org)
    before = cache_counts(server)
    written = [org for _ in range(5) for org in linked(admin, server)]
    time.sleep(0.3)  # polls have seen the writes' history rows
    for org in bystanders + written:  # the writes were put in place, and stay
        assert status_at(server, org) == 2
    after = cache_counts(server)
    assert after["hit"] - before["hit"] == len(bystanders) + len(written)
    assert after["miss"] == before["miss"]


def test_history_ids_that_commit_out_of_order_are_not_missed(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """PostgreSQL takes a history id at insert, not at commit: a write holding a lower id
    can become visible after one holding a higher id has been seen."""
    postgres.create_database("hamr_out_of_order")
    url = postgres.url_for("hamr_out_of_order")
    store = open_store(url)
    try:
        admin = Admin(store)
        slow, fast = admin.create_org("us1"), admin.create_org("us1")
        service = HamrService(store.unit_of_work, store.view, frozenset({"us1", "eu1"}))
        cache = service.connections
        row = {"key_id": "k", "modified_by": "m", "recorded_at_us": 1, "after": None}
        with store.engine.connect() as first, store.engine.connect() as second:
            first.begin()
            first.execute(history.insert(), {"org_uuid": slow.uuid, **row})  # the lower id
            with second.begin():
                second.execute(history.insert(), {"org_uuid": fast.uuid, **row})
            seen = service.storage_changes()
            assert [org for _, org in seen.changed] == [fast.uuid]
            service.notice(seen)
            first.commit()
        # What a poller of the slow org had cached before its write became visible.
        cache.remember(
            [Connection(slow.uuid, HamrStatus.PASSIVE, True, 0, "m", "eu1", "n", "t", "us1")]
        )
        before = cache.misses
        service.notice(service.storage_changes())
        cache.get(slow.uuid)
        assert cache.misses == before + 1  # dropped, so read from storage again
    finally:
        store.close()


def test_the_least_recently_read_entry_goes_first() -> None:
    entries: LruDict[int] = LruDict(max_entries=2)
    entries.put("a", 1)
    entries.put("b", 2)
    assert entries.get("a") == 1  # read: now the most recent
    entries.put("c", 3)
    assert list(entries.entries) == ["a", "c"]
    entries.put("a", 4)  # a rewrite takes no room
    assert entries.entries == {"c": 3, "a": 4}
    assert entries.get("b") is None


def test_a_fill_that_raced_a_change_is_not_kept() -> None:
    fills = Fills()
    kept: list[str] = []
    since = fills.generation
    fills.fill(since, lambda: kept.append("unraced"))
    with fills.changing():  # a revocation or a write, while a read was on its way
        pass
    fills.fill(since, lambda: kept.append("raced"))
    assert kept == ["unraced"]


def test_a_proof_that_raced_a_revocation_is_not_remembered(admin: Admin, database_url: str) -> None:
    store = open_store(database_url)
    try:
        service = HamrService(store.unit_of_work, store.view, frozenset({"us1", "eu1"}))
        org = admin.create_org("us1")
        principal = service.identify(org.app_key, KeyKind.APP)
        assert principal is not None
        since = service.credentials_generation()
        service.credentials.clear()  # what a revocation noticed meanwhile does
        service.remember("digest-of-its-credentials", principal, since)
        assert service.recognise("digest-of-its-credentials") is None
        service.remember("digest-of-its-credentials", principal, service.credentials_generation())
        assert service.recognise("digest-of-its-credentials") == principal
    finally:
        store.close()


def test_the_metrics_count_both_caches_hits_and_misses(admin: Admin, server: ServeProcess) -> None:
    """Each request is counted once per cache, though its credentials are first looked for
    in memory alone and then proved from storage."""
    org, _partner = linked(admin, server)  # its write put its connection in memory
    fresh = admin.unseen_credentials(org)
    before = cache_metrics(server)
    for _ in range(2):  # proved from storage, then recognised from memory
        assert local_http.get(f"{server.url}{PATH}", headers=fresh).status_code == 200
    local_http.get(f"{server.url}{PATH}", headers=admin.unseen_credentials(admin.create_org("us1")))
    after = cache_metrics(server)
    counted = {key: after[key] - before.get(key, 0) for key in after}
    assert counted == {
        ("credentials", "miss"): 2,  # the two new combinations of keys
        ("credentials", "hit"): 1,
        ("connections", "miss"): 1,  # the org without a connection: read from storage
        ("connections", "hit"): 2,
    }
