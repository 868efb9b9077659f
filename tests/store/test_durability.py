"""An acknowledged write survives kill -9 and restarts; concurrent writes are neither lost nor
interleaved: each connection's history is one unbroken chain in modified_at order, whichever
side of a pair wrote it."""

from __future__ import annotations

import signal
import threading
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from hamr.domain.model import HistoryEntry, KeyKind
from hamr.domain.rules import DEFAULT_DATACENTERS
from hamr.store.sql import SqlStore, open_store
from hamr.usecases.service import HamrService
from tests import local_http
from tests.conftest import (
    ATTRIBUTE_NAMES,
    Admin,
    OrgKeys,
    ServeProcess,
    connection_body,
    sqlite_url,
)

PATH = "/api/v2/hamr"
WRITES = 30


@dataclass
class Deployment:
    """A database of our own, the service over it, and the server currently running on it."""

    database_url: str
    tmp_path: Path
    store: SqlStore
    service: HamrService
    server: ServeProcess | None = None
    starts: int = 0

    def start(self) -> ServeProcess:
        self.starts += 1
        log = self.tmp_path / f"server-{self.starts}.log"
        self.server = ServeProcess(self.database_url, log).start()
        return self.server

    def create_org(self, name: str, datacenter: str) -> OrgKeys:
        org, api_key, app_key = self.service.create_org(name, datacenter)
        return OrgKeys(org.uuid, org.name, org.datacenter, api_key, app_key)

    def history(self, org_uuid: str) -> list[HistoryEntry]:
        return self.service.history(org_uuid)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    url = sqlite_url(tmp_path / "durable.db")
    store = open_store(url)
    service = HamrService(store.unit_of_work, store.view, frozenset(DEFAULT_DATACENTERS))
    running = Deployment(url, tmp_path, store, service)
    yield running
    if running.server is not None:
        running.server.stop()
    store.close()


def post(
    client: httpx.Client, org: OrgKeys, partner: OrgKeys, index: int, **extra: Any
) -> httpx.Response:
    body = connection_body(
        org, partner, hamr_status=index % 6, is_primary=index % 2 == 0, modified_by=f"w{index}@x"
    )
    return client.post(PATH, json=body, headers=org.headers, **extra)


def stored(response: httpx.Response) -> dict[str, Any]:
    """The contract's attributes of a connection document: what history keeps of it (a
    document carries the live API's spellings besides)."""
    attributes = response.json()["data"]["attributes"]
    return {name: attributes[name] for name in (*ATTRIBUTE_NAMES, "modified_at")}


def seen_by_partner(attributes: dict[str, Any], writer: OrgKeys) -> dict[str, Any]:
    """A pair's connection as `writer` sees it, from the other side: the same status and
    modification, the other org primary, and `writer` the target."""
    return {
        **attributes,
        "is_primary": not attributes["is_primary"],
        "target_org_datacenter": writer.datacenter,
        "target_org_name": writer.name,
        "target_org_uuid": writer.uuid,
    }


def as_seen_by(
    reader: OrgKeys, entry: HistoryEntry, partner: OrgKeys | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A history row's before and after from `reader`'s side of its pair with `partner`."""
    if entry.org_uuid == reader.uuid:
        return entry.before, entry.after
    assert partner is not None, f"{entry} was written by another org than {reader.uuid}"
    assert entry.org_uuid == partner.uuid, entry
    before, after = entry.before, entry.after
    return (
        None if before is None else seen_by_partner(before, partner),
        None if after is None else seen_by_partner(after, partner),
    )


def assert_unbroken_chain(
    entries: list[HistoryEntry], reader: OrgKeys, partner: OrgKeys | None = None
) -> None:
    """Each change starts from the previous one's result, seen from `reader`'s side whichever
    side of its pair with `partner` wrote it; modified_at strictly increases."""
    views = [as_seen_by(reader, entry, partner) for entry in entries]
    assert views[0][0] is None
    for (_, previous), (before, _) in pairwise(views):
        assert before == previous
    stamps = [str(after["modified_at"]) for _, after in views if after is not None]
    assert len(stamps) == len(views)
    assert all(a < b for a, b in pairwise(stamps)), stamps


def test_acknowledged_writes_survive_kill_9(deployment: Deployment) -> None:
    org = deployment.create_org("Durable", "us1")
    partner = deployment.create_org("Durable Backup", "eu1")
    server = deployment.start()

    acknowledged: list[httpx.Response] = []
    with local_http.client(base_url=server.url, timeout=10) as client:
        for index in range(WRITES):
            response = post(client, org, partner, index)
            assert response.status_code == 200, response.text
            acknowledged.append(response)

    server.stop(signal.SIGKILL)
    assert server.process is not None
    assert server.process.returncode == -signal.SIGKILL

    restarted = deployment.start()
    with local_http.client(base_url=restarted.url, timeout=10) as client:
        read = client.get(PATH, headers=org.headers)
        read_by_partner = client.get(PATH, headers=partner.headers)
    assert read.status_code == 200, read.text
    assert read.content == acknowledged[-1].content  # byte for byte the last acknowledged state
    # The partner reads the pair's one connection, as last acknowledged, from its side.
    assert read_by_partner.status_code == 200, read_by_partner.text
    assert stored(read_by_partner) == seen_by_partner(stored(acknowledged[-1]), org)

    entries = deployment.history(org.uuid)
    assert len(entries) == WRITES
    assert [e.modified_by for e in entries] == [f"w{i}@x" for i in range(WRITES)]
    assert [e.after for e in entries] == [stored(r) for r in acknowledged]
    assert_unbroken_chain(entries, org)
    # Every row wrote the pair's connection: the partner's history is the same rows.
    assert deployment.history(partner.uuid) == entries


def test_kill_9_mid_stream_loses_no_acknowledged_write(deployment: Deployment) -> None:
    org = deployment.create_org("Streaming", "us1")
    partner = deployment.create_org("Streaming Backup", "eu1")
    server = deployment.start()

    acknowledged: list[httpx.Response] = []
    refused: list[httpx.Response] = []
    enough = threading.Event()
    stop = threading.Event()

    def writer() -> None:
        with local_http.client(base_url=server.url, timeout=10) as client:
            index = 0
            while not stop.is_set():
                try:
                    response = post(client, org, partner, index)
                except httpx.TransportError:
                    return  # the server died under this request: not acknowledged
                if response.status_code != 200:
                    refused.append(response)
                    return
                acknowledged.append(response)
                index += 1
                if index >= 10:
                    enough.set()

    thread = threading.Thread(target=writer)
    thread.start()
    assert enough.wait(timeout=30), "the writer did not get 10 writes acknowledged"
    server.stop(signal.SIGKILL)
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert refused == []

    deployment.start()
    entries = deployment.history(org.uuid)
    # every acknowledged write is there, in order; at most the one in flight besides
    assert len(acknowledged) <= len(entries) <= len(acknowledged) + 1
    assert [e.after for e in entries[: len(acknowledged)]] == [stored(r) for r in acknowledged]
    assert_unbroken_chain(entries, org)
    assert deployment.history(partner.uuid) == entries
    assert deployment.server is not None
    with local_http.client(base_url=deployment.server.url, timeout=10) as client:
        read = client.get(PATH, headers=org.headers)
        read_by_partner = client.get(PATH, headers=partner.headers)
    last = entries[-1].after
    assert last is not None
    assert read.status_code == 200
    assert stored(read) == last
    assert read_by_partner.status_code == 200
    assert stored(read_by_partner) == seen_by_partner(last, org)


def test_clean_restart_keeps_connections_history_and_keys(deployment: Deployment) -> None:
    org = deployment.create_org("Restart", "us1")
    partner = deployment.create_org("Restart Backup", "eu1")
    token_record, token = deployment.service.create_key(org.uuid, KeyKind.TOKEN)
    server = deployment.start()

    with local_http.client(base_url=server.url, timeout=10) as client:
        writes = [post(client, org, partner, index) for index in range(3)]
        writes.append(post(client, partner, org, 4))  # the other side writes the pair's one
        before_org = client.get(PATH, headers=org.headers)
        before_partner = client.get(PATH, headers=partner.headers)
    assert all(w.status_code == 200 for w in writes)
    assert before_partner.content == writes[3].content
    assert stored(before_org) == seen_by_partner(stored(writes[3]), partner)

    server.stop(signal.SIGTERM)
    assert server.process is not None
    # a graceful stop (uvicorn re-raises the signal once it has shut down)
    assert server.process.returncode in (0, -signal.SIGTERM), server.log()
    assert "shutdown complete" in server.log().lower()
    deployment.service.revoke_key(token_record.id)  # while no server runs

    restarted = deployment.start()
    with local_http.client(base_url=restarted.url, timeout=10) as client:
        after_org = client.get(PATH, headers=org.headers)
        after_partner = client.get(PATH, headers=partner.headers)
        revoked = client.get(PATH, headers={"Authorization": f"Bearer {token}"})
        further = post(client, org, partner, 5)
    assert after_org.status_code == 200
    assert after_org.content == before_org.content
    assert after_partner.content == before_partner.content == writes[3].content
    assert revoked.status_code == 403
    assert further.status_code == 200
    assert (
        further.json()["data"]["attributes"]["modified_at"]
        > (after_org.json()["data"]["attributes"]["modified_at"])
    )

    entries = deployment.history(org.uuid)
    assert [(e.org_uuid, e.modified_by) for e in entries] == [
        (org.uuid, "w0@x"),
        (org.uuid, "w1@x"),
        (org.uuid, "w2@x"),
        (partner.uuid, "w4@x"),
        (org.uuid, "w5@x"),
    ]
    assert [e.after for e in entries] == [stored(w) for w in (*writes, further)]
    assert_unbroken_chain(entries, org, partner)
    assert deployment.history(partner.uuid) == entries  # one connection, one history


def test_concurrent_posts_from_several_orgs(
    server: ServeProcess, admin: Admin, http: httpx.Client
) -> None:
    orgs = [admin.create_org("us1") for _ in range(4)]
    # Each writer its own pair: a partner takes one connection, so a shared one would refuse
    # all writers but the first.
    partners = {org.uuid: admin.create_org("eu1") for org in orgs}
    jobs = [(org, index) for index in range(5) for org in orgs]  # 20 writes, interleaved
    start = threading.Barrier(len(jobs))

    def write(job: tuple[OrgKeys, int]) -> tuple[OrgKeys, httpx.Response]:
        org, index = job
        with local_http.client(base_url=server.url, timeout=30) as client:
            start.wait(timeout=30)
            return org, post(client, org, partners[org.uuid], index)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(write, jobs))

    statuses = [response.status_code for _, response in results]
    assert all(status < 500 for status in statuses), statuses
    acknowledged: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for org, response in results:
        if response.status_code == 200:
            acknowledged[org.uuid].append(response.json())
    assert sum(map(len, acknowledged.values())) == statuses.count(200)
    assert statuses.count(200) == len(jobs), statuses  # nothing here is worth refusing

    for org in orgs:
        partner = partners[org.uuid]
        entries = admin.history(org.uuid)
        assert len(entries) == len(acknowledged[org.uuid])
        assert_unbroken_chain(entries, org)
        # each acknowledged response is exactly one history row
        assert sorted(str(e.after["modified_at"]) for e in entries if e.after) == sorted(
            str(doc["data"]["attributes"]["modified_at"]) for doc in acknowledged[org.uuid]
        )
        final = http.get(PATH, headers=org.headers)
        assert final.status_code == 200
        assert final.json() in acknowledged[org.uuid]
        assert stored(final) == entries[-1].after
        # The partner reads the same connection from its side, and shares its history.
        final_by_partner = http.get(PATH, headers=partner.headers)
        assert final_by_partner.status_code == 200
        assert stored(final_by_partner) == seen_by_partner(stored(final), org)
        assert admin.history(partner.uuid) == entries
