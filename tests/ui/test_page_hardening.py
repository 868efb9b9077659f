"""The web page against what an attacker sent it (issue 26), over plain HTTP against a real
`hamr serve --emulator` on SQLite: a form of thousands of fields is the page's own 400, not a
500; text people wrote (names, modified_by, reasons) sits in `<bdi>`, so that a right-to-left
override in it cannot reorder the cell around it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest

from hamr.usecases.demo import PRODUCTION
from tests import local_http
from tests.conftest import EmulatorServer, OrgKeys, sqlite_url


@pytest.fixture(scope="module")
def emulator_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The page is tested on SQLite alone."""
    return sqlite_url(tmp_path_factory.mktemp("page-hardening") / "hamr.db")


@pytest.fixture
def client(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with local_http.client(base_url=emulator.url, timeout=30) as http:
        yield http


def csrf_of(client: httpx.Client) -> str:
    """The sign-in form's CSRF token (its session cookie stays in the client)."""
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/ui/sign-in").text)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("with_session", [False, True])
def test_a_form_of_thousands_of_fields_is_the_pages_400(
    client: httpx.Client, with_session: bool
) -> None:
    fields = "&".join(["f=1"] * 5_000)
    if with_session:
        fields = f"csrf={csrf_of(client)}&" + fields
    answer = client.post(
        "/ui/sign-in",
        content=fields,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert "more than 20 fields" in answer.text
    assert "Content-Security-Policy" in answer.headers


RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: reorders what follows it, up to the end of its box


def signed_in(client: httpx.Client, org: OrgKeys) -> None:
    keys = {"csrf": csrf_of(client), "api_key": org.api_key, "app_key": org.app_key}
    answer = client.post("/ui/sign-in", data=keys)
    assert answer.status_code == 303, answer.text


def test_text_people_wrote_is_isolated_in_bdi_so_an_override_cannot_reorder_a_cell(
    emulator: EmulatorServer, client: httpx.Client
) -> None:
    org = emulator.reset()[PRODUCTION.name]
    state = json.loads(emulator.admin.state())
    attributes = state["data"]["attributes"]
    attributes["history"][-1]["reason"] = f"drill {RLO}exe.txt"
    attributes["history"][-1]["modified_by"] = f"sre {RLO}moc.elpmaxe"
    attributes["connections"][0]["modified_by"] = f"sre {RLO}moc.elpmaxe"
    for stored in attributes["orgs"]:
        stored["name"] += f" {RLO}gro"
    for link in attributes["connections"]:  # the partner's name as the pair knows it
        link["target_org_name"] += f" {RLO}gro"
    emulator.admin.load_state(json.dumps(state).encode())
    signed_in(client, org)

    history = client.get("/ui/history").text
    assert f"<td><bdi>drill {RLO}exe.txt</bdi></td>" in history, history
    # Who acted: the name it gave and its org's, each isolated (then hamr's own words).
    by = f"<td><bdi>sre {RLO}moc.elpmaxe</bdi>, <bdi>{PRODUCTION.name} {RLO}gro</bdi> (write key)"
    assert by in history, history
    pair = client.get("/ui/pair").text
    assert f"by <bdi>sre {RLO}moc.elpmaxe</bdi>" in pair, pair
    for stored in attributes["orgs"]:
        assert f"<bdi>{stored['name']}</bdi>" in pair
    assert f"<bdi>{PRODUCTION.name} {RLO}gro</bdi> (" in pair  # the signed-in org, in the header
    confirm = client.get("/ui/pair/failover").text
    assert f"<strong><bdi>{PRODUCTION.name} {RLO}gro</bdi></strong>" in confirm, confirm
