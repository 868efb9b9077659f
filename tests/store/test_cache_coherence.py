"""Servers cache connections in memory; another process's write reaches them within a poll."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from hamr.service import HamrService
from hamr.settings import Settings
from hamr.store.sql import open_store
from tests.conftest import HamrServer, OrgKeys, connection_body, sqlite_url

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
    first = HamrServer(database_url, tmp_path / "first.log").start()
    second = HamrServer(database_url, tmp_path / "second.log").start()
    try:
        with httpx.Client(headers=org.headers, timeout=10) as client:
            body = connection_body(org, partner, hamr_status=2)
            assert client.post(first.url + PATH, json=body).status_code == 200
            cached = client.get(second.url + PATH).json()  # now in the second server's cache
            assert cached["data"]["attributes"]["hamr_status"] == 2

            body = connection_body(org, partner, hamr_status=3)
            written = client.post(first.url + PATH, json=body).json()
            # The writer reads its own write at once.
            assert client.get(first.url + PATH).json() == written
            deadline = time.monotonic() + 1.0
            while client.get(second.url + PATH).json() != written:
                assert time.monotonic() < deadline, "the second server kept a stale connection"
                time.sleep(0.02)
    finally:
        first.stop()
        second.stop()
