"""The web page at /ui, driven in a real browser (Debian's chromium through Playwright)
against a real `hamr serve`: sign in, see the pair, fail over with a reason, see ACTIVE and
the history row, recover, sign out; what a read key, a wrong key, a revoked key and a
CSRF-less form get; keyboard-only use; and axe-core's rules in every page. Each page's
screenshot goes to build/screenshots/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from hamr.api.ui.actors import HAMR_WRITTEN, NOT_KEYS
from hamr.api.ui.timeline import STATUS_COLOURS
from hamr.cli.pair import OPERATOR_KEY
from hamr.domain.model import HamrStatus, KeyKind, Permission
from hamr.emulator.pair_admin import EMULATOR_ACTOR
from hamr.store.repository import UNLINKED_BY
from hamr.store.sql import SqlStore, open_store
from tests import local_http
from tests.conftest import ROOT, Admin, OrgKeys, ServeProcess, connection_body, run_cli, sqlite_url
from tests.ui.browser import assert_accessible, shoot, sign_in

PATH = "/api/v2/hamr"


@dataclass
class Site:
    server: ServeProcess
    store: SqlStore
    admin: Admin

    @property
    def url(self) -> str:
        return self.server.url

    def linked_pair(self, status: int = 2) -> tuple[OrgKeys, OrgKeys]:
        """Two orgs whose pair stands at `status`, `org` primary."""
        org, partner = self.admin.create_org("us1"), self.admin.create_org("eu1")
        body = connection_body(org, partner, hamr_status=status, is_primary=True)
        answer = local_http.post(f"{self.url}{PATH}", json=body, headers=org.headers)
        assert answer.status_code == 200, answer.text
        return org, partner


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("ui")
    url = sqlite_url(folder / "hamr.db")
    store = open_store(url)
    server = ServeProcess(url, folder / "server.log").start()
    yield Site(server, store, Admin(store))
    server.stop()
    store.close()


def badge(page: Page) -> str:
    return " ".join(page.locator(".badge").inner_text().split())


def test_sign_in_fail_over_recover_and_sign_out(page: Page, site: Site, screenshots: Path) -> None:
    org, partner = site.linked_pair(status=2)
    page.goto(f"{site.url}/ui")
    expect(page).to_have_url(re.compile(r"/ui/sign-in$"))
    assert_accessible(page)
    shoot(page, screenshots, "sign-in")

    sign_in(page, site.url, org.api_key, org.app_key)
    expect(page).to_have_url(re.compile(r"/ui/pair$"))
    assert badge(page) == "2 PASSIVE"
    expect(page.locator("table.sides")).to_contain_text(partner.name)
    expect(page.locator(".facts")).to_contain_text("linked")
    expect(page.locator(".refreshed")).to_contain_text("Updated")
    assert_accessible(page)
    shoot(page, screenshots, "pair")

    page.get_by_role("link", name="Failover").click()
    expect(page.get_by_role("heading", name="Confirm failover")).to_be_visible()
    expect(page.locator("main")).to_contain_text(partner.name)  # it names the pair
    assert_accessible(page)
    shoot(page, screenshots, "confirm-failover")
    page.get_by_label("Reason").fill("us1 is down: drill 42")
    page.get_by_role("button", name="Failover the pair").click()
    expect(page).to_have_url(re.compile(r"/ui/pair\?done=failover$"))
    assert badge(page) == "4 ACTIVE"
    history = site.admin.history(org.uuid)
    assert [entry.after["hamr_status"] for entry in history if entry.after][-2:] == [3, 4]
    assert history[-1].reason == "us1 is down: drill 42"

    page.get_by_role("link", name="History", exact=True).click()
    first_row = page.locator("table.history tbody tr").first
    expect(first_row).to_contain_text("4 ACTIVE")
    expect(first_row).to_contain_text("us1 is down: drill 42")
    # Who acted: the signed-in org and its key's permission, not the operation's own label.
    expect(first_row).to_contain_text(f"{org.name} (write key)")
    expect(first_row).not_to_contain_text("hamr pair")
    expect(page.locator("svg[role=img]")).to_be_visible()
    # The drill took seconds: the axis's labels are told apart (not 07:38:09 twice).
    ticks = page.locator("svg[role=img] text[y]").all_text_contents()
    axis = [t for t in ticks if not re.fullmatch(r"\d [A-Z]+", t)]
    assert len(axis) >= 2, axis
    assert len(set(axis)) == len(axis), axis
    assert_accessible(page)
    shoot(page, screenshots, "history")

    page.get_by_role("link", name="Pair", exact=True).click()
    page.get_by_role("link", name="Recover").click()
    page.get_by_label("Reason").fill("us1 is back")
    page.get_by_role("button", name="Recover the pair").click()
    assert badge(page) == "2 PASSIVE"

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/ui/sign-in$"))
    page.goto(f"{site.url}/ui/pair")
    expect(page).to_have_url(re.compile(r"/ui/sign-in$"))


def test_a_read_key_sees_no_buttons(page: Page, site: Site) -> None:
    org, _partner = site.linked_pair()
    _record, read_key = site.admin.service.create_key(org.uuid, KeyKind.APP, Permission.READ)
    sign_in(page, site.url, org.api_key, read_key)
    assert badge(page) == "2 PASSIVE"
    expect(page.locator("main")).to_contain_text("may read only")
    assert page.locator(".operations").count() == 0
    assert page.get_by_role("button").all_inner_texts() == ["Sign out"]
    page.goto(f"{site.url}/ui/pair/failover")  # the confirmation refuses too
    expect(page.locator(".problem")).to_contain_text("read permission")


def test_a_wrong_key_is_named(page: Page, site: Site, screenshots: Path) -> None:
    org, _partner = site.linked_pair()
    sign_in(page, site.url, org.api_key, "0" * 40)
    problem = page.get_by_role("alert")
    expect(problem).to_contain_text("DD-APPLICATION-KEY is not a valid application key")
    expect(page.get_by_label("Application key (DD-APPLICATION-KEY)")).to_have_attribute(
        "aria-invalid", "true"
    )
    assert page.get_by_label("API key (DD-API-KEY)").get_attribute("aria-invalid") is None
    assert_accessible(page)
    shoot(page, screenshots, "sign-in-refused")


def test_a_refused_move_shows_its_reason(page: Page, site: Site) -> None:
    org, _partner = site.linked_pair(status=2)
    sign_in(page, site.url, org.api_key, org.app_key)
    page.get_by_role("link", name="Abort").click()
    page.get_by_label("Reason").fill("wrong button")
    page.get_by_role("button", name="Abort the pair").click()
    refused = page.get_by_role("alert")
    expect(refused).to_contain_text("abort starts from 3 FAILOVER or 5 RECOVERY")
    assert site.admin.connection(org.uuid) is not None
    assert [e.after["hamr_status"] for e in site.admin.history(org.uuid) if e.after] == [2]


def test_a_form_without_its_csrf_token_is_refused(page: Page, site: Site) -> None:
    org, _partner = site.linked_pair(status=2)
    sign_in(page, site.url, org.api_key, org.app_key)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    before = site.admin.snapshot(org.uuid)
    with local_http.client(base_url=site.url, cookies=cookies) as client:
        forged = client.post("/ui/pair/failover", data={"reason": "forged"})
        wrong = client.post("/ui/pair/failover", data={"reason": "forged", "csrf": "x" * 43})
    for refused in (forged, wrong):
        assert refused.status_code == 403
        assert refused.headers["content-type"].startswith("text/html")
        assert "did not come from this page" in refused.text
    assert site.admin.snapshot(org.uuid) == before


def test_a_revoked_key_ends_the_session(page: Page, site: Site) -> None:
    org, _partner = site.linked_pair()
    record, app_key = site.admin.service.create_key(org.uuid, KeyKind.APP)
    sign_in(page, site.url, org.api_key, app_key)
    assert badge(page) == "2 PASSIVE"
    result = run_cli("key", "revoke", record.id, database_url=site.server.database_url)
    assert result.returncode == 0, result.stderr
    page.goto(f"{site.url}/ui/pair")
    expect(page).to_have_url(re.compile(r"/ui/sign-in\?why="))
    expect(page.get_by_role("status")).to_contain_text("revoked")


def test_the_pair_refreshes_by_itself(page: Page, site: Site) -> None:
    org, partner = site.linked_pair(status=2)
    sign_in(page, site.url, org.api_key, org.app_key)
    assert badge(page) == "2 PASSIVE"
    body = connection_body(org, partner, hamr_status=3, is_primary=True)
    assert local_http.post(f"{site.url}{PATH}", json=body, headers=org.headers).status_code == 200
    expect(page.locator(".badge")).to_contain_text("FAILOVER", timeout=15_000)


def test_keyboard_only_with_visible_focus(page: Page, site: Site) -> None:
    org, _partner = site.linked_pair()
    page.goto(f"{site.url}/ui/sign-in")
    page.keyboard.press("Tab")  # the skip link first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    while page.evaluate("document.activeElement.id") != "api_key":
        page.keyboard.press("Tab")
    page.keyboard.type(org.api_key)
    page.keyboard.press("Tab")
    page.keyboard.type(org.app_key)
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/ui/pair$"))
    assert badge(page) == "2 PASSIVE"


def test_errors_are_pages(page: Page, site: Site) -> None:
    answer = page.goto(f"{site.url}/ui/nowhere")
    assert answer is not None
    assert answer.status == 404
    assert answer.headers["content-type"].startswith("text/html")
    expect(page.get_by_role("heading", level=1)).to_have_text("404 Not Found")
    assert_accessible(page)
    api = local_http.get(f"{site.url}/api/v2/nowhere")  # the API's stay JSON:API
    assert api.headers["content-type"] == "application/json"


def test_sign_in_failures_count_against_the_unauthenticated_limit(
    tmp_path: Path, site: Site
) -> None:
    server = ServeProcess(
        site.server.database_url,
        tmp_path / "limited.log",
        "--rate-limit",
        "hamr_unauthenticated=3/3600",
    ).start()
    try:
        with local_http.client(base_url=server.url) as client:
            form = client.get("/ui/sign-in").text
            csrf = re.search(r'name="csrf" value="([^"]+)"', form)
            assert csrf is not None
            wrong = {"csrf": csrf.group(1), "api_key": "0" * 32, "app_key": "0" * 40}
            statuses = [client.post("/ui/sign-in", data=wrong).status_code for _ in range(4)]
            last = client.post("/ui/sign-in", data=wrong)
    finally:
        server.stop()
    assert statuses == [403, 403, 403, 429]
    assert "Too many refused sign-ins" in last.text


def test_the_writers_that_are_no_key_are_the_ones_hamr_writes() -> None:
    """api/ui/actors.py names them without importing the cli, emulator or store layers."""
    assert set(NOT_KEYS) == {OPERATOR_KEY, UNLINKED_BY, EMULATOR_ACTOR}
    assert UNLINKED_BY.startswith(HAMR_WRITTEN)


def test_badge_colours_are_the_timelines() -> None:
    """One palette: the stylesheet's badge colours are timeline.STATUS_COLOURS."""
    css = (ROOT / "src/hamr/api/ui/static/hamr.css").read_text()
    for status in HamrStatus:
        found = re.search(rf"\.status-{int(status)} \{{ background: (#[0-9a-f]{{6}})", css)
        assert found is not None, status
        assert found.group(1) == STATUS_COLOURS[status].lower()


def test_a_token_signs_in_too(page: Page, site: Site) -> None:
    org, _partner = site.linked_pair()
    _record, token = site.admin.service.create_key(org.uuid, KeyKind.TOKEN)
    page.goto(f"{site.url}/ui/sign-in")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/ui/pair$"))
    assert badge(page) == "2 PASSIVE"


def test_history_pages_by_cursor(page: Page, site: Site) -> None:
    org, partner = site.linked_pair(status=1)
    with local_http.client(base_url=site.url, headers=org.headers) as client:
        for index in range(24):  # 25 rows in all: two pages of 20
            body = connection_body(org, partner, hamr_status=1, modified_by=f"w{index}@x")
            assert client.post(PATH, json=body).status_code == 200
    sign_in(page, site.url, org.api_key, org.app_key)
    page.goto(f"{site.url}/ui/history")
    rows = page.locator("table.history tbody tr")
    expect(rows).to_have_count(20)
    expect(rows.first).to_contain_text("w23@x")
    page.get_by_role("link", name="Older changes").click()
    expect(rows).to_have_count(5)
    expect(rows.last).to_contain_text("sre@example.com")  # the first write of all
    assert page.get_by_role("link", name="Older changes").count() == 0
