"""The pair page's datacenter summary, in a real browser against a real `hamr serve`: an admin
sees how many of the primary datacenter's pairs have each status, and the counts follow a
datacenter failover; a write key sees no summary."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from hamr.domain.model import KeyKind, Permission
from hamr.store.sql import open_store
from tests import local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body, sqlite_url
from tests.ui.browser import assert_accessible, shoot, sign_in


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServeProcess, Admin]]:
    folder = tmp_path_factory.mktemp("ui-datacenter")
    url = sqlite_url(folder / "hamr.db")
    store = open_store(url)
    server = ServeProcess(url, folder / "server.log").start()
    yield server, Admin(store)
    server.stop()
    store.close()


def linked(server: ServeProcess, admin: Admin, status: int) -> tuple[OrgKeys, OrgKeys]:
    """A pair whose primary side is in ap2, at `status`."""
    primary, secondary = admin.create_org("ap2"), admin.create_org("uk1")
    body = connection_body(primary, secondary, hamr_status=status)
    answer = local_http.post(f"{server.url}/api/v2/hamr", json=body, headers=primary.headers)
    assert answer.status_code == 200, answer.text
    return primary, secondary


def counts(page: Page) -> dict[str, str]:
    rows = page.locator("table.datacenter-counts tbody tr")
    found = {}
    for i in range(rows.count()):
        status, number = rows.nth(i).locator("td").all_inner_texts()
        found[status] = number
    return found


def test_an_admin_sees_the_datacenters_pairs_by_status(
    page: Page, served: tuple[ServeProcess, Admin], screenshots: Path
) -> None:
    server, admin = served
    primary, _ = linked(server, admin, 2)
    linked(server, admin, 2)
    linked(server, admin, 4)
    key = admin.service.create_key(primary.uuid, KeyKind.APP, Permission.ADMIN)[1]

    sign_in(page, server.url, primary.api_key, key)
    expect(page).to_have_url(re.compile(r"/ui/pair$"))
    expect(page.get_by_role("heading", name="Pairs of ap2")).to_be_visible()
    assert counts(page) == {
        "0 UNSPECIFIED": "0",
        "1 ONBOARDING": "0",
        "2 PASSIVE": "2",
        "3 FAILOVER": "0",
        "4 ACTIVE": "1",
        "5 RECOVERY": "0",
    }
    expect(page.locator("table.datacenter-counts tfoot td")).to_have_text("3")
    assert_accessible(page)
    shoot(page, screenshots, "pair-datacenter-counts")

    headers = {"DD-API-KEY": primary.api_key, "DD-APPLICATION-KEY": key}
    started = local_http.post(
        f"{server.url}/api/v2/hamr/datacenters/ap2/failover",
        json={"reason": "ap2 is down"},
        headers=headers,
    )
    assert started.status_code == 202, started.text
    # The page refreshes itself: the counts follow the operation to its end.
    active = page.locator("table.datacenter-counts tbody tr", has_text="4 ACTIVE")
    expect(active.locator("td").nth(1)).to_have_text("3")
    assert counts(page)["2 PASSIVE"] == "0"


def test_a_write_key_sees_no_datacenter_summary(
    page: Page, served: tuple[ServeProcess, Admin]
) -> None:
    server, admin = served
    primary, _ = linked(server, admin, 2)
    sign_in(page, server.url, primary.api_key, primary.app_key)
    expect(page).to_have_url(re.compile(r"/ui/pair$"))
    expect(page.locator(".badge")).to_be_visible()
    expect(page.locator("table.datacenter-counts")).to_have_count(0)
