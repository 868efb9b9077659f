"""The web page's emulator controls, in a real browser against `hamr serve --emulator`: an
admin key sees the fault rules and the clock, adds a rule that the API then answers with,
clears it, and moves the clock; a write key does not get the controls."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from hamr.domain.model import KeyKind, Permission
from hamr.store.sql import open_store
from hamr.testing import TestOrg
from hamr.usecases.demo import PRODUCTION
from hamr.usecases.service import HamrService
from tests import local_http
from tests.conftest import EmulatorServer, sqlite_url
from tests.ui.browser import assert_accessible, shoot, sign_in


@pytest.fixture(scope="module")
def emulator_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The page is tested on SQLite alone."""
    return sqlite_url(tmp_path_factory.mktemp("ui-emulator") / "hamr.db")


def demo_org(emulator: EmulatorServer) -> TestOrg:
    return emulator.reset()[PRODUCTION.name]


def admin_key(emulator: EmulatorServer, org: TestOrg) -> str:
    store = open_store(emulator.database_url)
    try:
        service = HamrService(store.unit_of_work, store.view, frozenset({org.datacenter}))
        return service.create_key(org.uuid, KeyKind.APP, Permission.ADMIN)[1]
    finally:
        store.close()


def signed_in(page: Page, url: str, api_key: str, app_key: str) -> None:
    sign_in(page, url, api_key, app_key)
    expect(page).to_have_url(re.compile(r"/ui/pair$"))


def test_an_admin_adds_and_clears_a_fault_and_moves_the_clock(
    page: Page, emulator: EmulatorServer, screenshots: Path
) -> None:
    org = demo_org(emulator)
    signed_in(page, emulator.url, org.api_key, admin_key(emulator, org))
    page.get_by_role("link", name="Emulator").click()
    expect(page.locator("table.faults")).to_contain_text("No fault rules")

    page.get_by_label("Answer with").select_option("503")
    page.get_by_label("For requests of method").select_option("GET")
    page.get_by_role("button", name="Add the rule").click()
    expect(page.locator("table.faults")).to_contain_text('"status": 503')
    assert_accessible(page)
    shoot(page, screenshots, "emulator")
    answered = local_http.get(f"{emulator.url}/api/v2/hamr", headers=org.headers)
    assert answered.status_code == 503

    page.get_by_role("button", name="Clear every rule").click()
    expect(page.locator("table.faults")).to_contain_text("No fault rules")
    assert emulator.admin.rules() == []

    before = emulator.admin.clock()
    page.get_by_role("button", name="Move on an hour").click()
    expect(page.locator("main")).to_contain_text("moved from the real time")
    after = emulator.admin.clock()
    assert after["offset_seconds"] - before["offset_seconds"] >= 3600
    page.get_by_role("button", name="Back to the real time").click()
    expect(page.locator("main")).to_contain_text("the real time")


def test_a_write_key_gets_no_emulator_controls(page: Page, emulator: EmulatorServer) -> None:
    org = demo_org(emulator)
    signed_in(page, emulator.url, org.api_key, org.app_key)
    page.goto(f"{emulator.url}/ui/emulator")
    expect(page.locator(".problem")).to_contain_text("needs admin")
    assert page.get_by_role("button", name="Add the rule").count() == 0
