"""Servers cache connections in memory; another process's write reaches them within a poll,
for both sides of the pair it wrote."""

from __future__ import annotations

import time
from pathlib import Path

from hamr.settings import Settings
from hamr.store.sql import open_store
from hamr.usecases.service import HamrService
from tests import local_http
from tests.conftest import OrgKeys, ServeProcess, connection_body, sqlite_url

PATH = "/api/v2/hamr"


def make_org(database_url: str, datacenter: str) -> OrgKeys:
    store = open_store(database_url)
    try:
        service = HamrService(store.unit_of_work, store.view, Settings().datacenters)
        org, api_key, app_key = service.create_org(f"cache {datacenter}", datacenter)
    finally:
        store.close()
    return OrgKeys(org.uuid, org.name, org.datacenter, api_key, app_key)


def test_a_write_through_one_server_is_read_through_another_within_a_second(
    tmp_path: Path,
) -> None:
    database_url = sqlite_url(tmp_path / "shared.db")
    org, partner = make_org(database_url, "us1"), make_org(database_url, "eu1")
    first = ServeProcess(database_url, tmp_path / "first.log").start()
    second = ServeProcess(database_url, tmp_path / "second.log").start()
    try:
        with local_http.client(headers=org.headers, timeout=10) as client:
            body = connection_body(org, partner, hamr_status=2)
            assert client.post(first.url + PATH, json=body).status_code == 200
            # Now in the second server's cache, for both sides of the pair.
            cached = client.get(second.url + PATH).json()
            assert cached["data"]["attributes"]["hamr_status"] == 2
            cached = client.get(second.url + PATH, headers=partner.headers).json()
            assert cached["data"]["attributes"]["hamr_status"] == 2
            for server in (first, second):  # the partner's view, cached by both servers
                assert client.get(server.url + PATH, headers=partner.headers).json() == cached

            body = connection_body(org, partner, hamr_status=3)
            written = client.post(first.url + PATH, json=body).json()
            # The writer reads its own write at once, and so does its partner on that server.
            assert client.get(first.url + PATH).json() == written
            seen_by_partner = client.get(first.url + PATH, headers=partner.headers).json()
            assert seen_by_partner["data"]["attributes"]["hamr_status"] == 3
            shared = written["data"]["attributes"]["modified_at"]
            assert seen_by_partner["data"]["attributes"]["modified_at"] == shared
            assert seen_by_partner["data"]["attributes"]["target_org_uuid"] == org.uuid
            deadline = time.monotonic() + 1.0
            while (
                client.get(second.url + PATH).json() != written
                or client.get(second.url + PATH, headers=partner.headers).json() != seen_by_partner
            ):
                assert time.monotonic() < deadline, "the second server kept a stale connection"
                time.sleep(0.02)

            # The partner's write through the second server reaches the first one's cache.
            body = connection_body(partner, org, hamr_status=4, is_primary=False)
            response = client.post(second.url + PATH, json=body, headers=partner.headers)
            assert response.status_code == 200, response.text
            written = response.json()
            shared = written["data"]["attributes"]["modified_at"]
            deadline = time.monotonic() + 1.0
            while (
                client.get(first.url + PATH, headers=partner.headers).json() != written
                or client.get(first.url + PATH).json()["data"]["attributes"]["modified_at"]
                != shared
            ):
                assert time.monotonic() < deadline, "the first server kept a stale connection"
                time.sleep(0.02)
            seen_by_org = client.get(first.url + PATH).json()
            assert client.get(second.url + PATH).json() == seen_by_org  # the writer's server
            assert seen_by_org["data"]["attributes"]["hamr_status"] == 4
            assert seen_by_org["data"]["attributes"]["is_primary"] is True
            assert seen_by_org["data"]["attributes"]["target_org_uuid"] == partner.uuid
    finally:
        first.stop()
        second.stop()
