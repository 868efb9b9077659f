"""The plugin's settings as a user writes them: the `hamr_*` ini options, the `hamr` marker
(servers with equal settings shared), and what a mistake in either says; and the fixture's
keys of each permission. Each run is pytest in a fresh process, as in a user's project."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.postgres import PostgresServer
from tests.test_pytest_plugin import UNSTABLE_IS_EXPECTED

pytest_plugins = ["pytester"]

MARKED = """
import httpx
import pytest

URLS = {}


def policy(hamr):
    return hamr.pair(hamr.primary)["data"]["attributes"]["policy"]


def test_unmarked_is_the_sessions(hamr):
    URLS["session"] = hamr.url
    assert policy(hamr) == "off"  # hamr_transitions
    assert set(hamr.sites) == {"eu1", "us5"}  # hamr_sites


@pytest.mark.hamr(transitions="enforce", sites=["eu1", "us1", "ap2"])
def test_marked(hamr):
    URLS["enforce"] = hamr.url
    assert policy(hamr) == "enforce"
    assert set(hamr.sites) == {"eu1", "us1", "ap2"}


@pytest.mark.hamr(sites="eu1 us1 ap2", transitions="enforce")
def test_marked_alike_shares_its_server(hamr):
    assert hamr.url == URLS["enforce"]


@pytest.mark.hamr(wire="live", stuck_after_seconds=5)
def test_marked_otherwise_has_its_own(hamr):
    assert hamr.url not in URLS.values()
    assert policy(hamr) == "off"  # the ini's, where the marker says nothing
    raw = httpx.get(hamr.url + "/api/v2/hamr", headers=hamr.secondary.headers).json()
    assert list(raw["data"]["attributes"])[0] == "HamrStatus"
    hamr.set_status("recovery", primary=hamr.secondary)
    hamr.clock.advance(6)
    assert hamr.pair(hamr.primary)["data"]["attributes"]["health"] == "stuck"


def test_and_the_session_server_is_left_as_it_was(hamr):
    assert hamr.url == URLS["session"]
"""


def run(pytester: pytest.Pytester) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "no:randomly", "-W", "error", "-W", UNSTABLE_IS_EXPECTED, "-q"
    )


def test_a_marked_test_gets_a_server_with_its_settings_over_the_ini(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\nhamr_transitions = off\nhamr_sites = eu1 us5\n")
    pytester.makepyfile(test_marked=MARKED)
    run(pytester).assert_outcomes(passed=5)


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    ran = pytester.runpytest_subprocess("--markers")
    ran.stdout.fnmatch_lines(["@pytest.mark.hamr(transitions=, wire=, *): this test's own*"])
    ran = pytester.runpytest_subprocess("--help")
    names = ("transitions", "wire", "stuck_after_seconds", "sites", "database")
    ran.stdout.fnmatch_lines([f"  hamr_{name} (string):*" for name in names])


def test_mistakes_in_the_options_and_the_marker_say_where_and_what(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\nhamr_wire = json\n")
    pytester.makepyfile(
        test_mistakes="""
import pytest


def test_the_ini(hamr):
    pass


@pytest.mark.hamr(wire="live", transition="off")
def test_a_misspelt_keyword(hamr):
    pass


@pytest.mark.hamr(wire="live", stuck_after_seconds="soon")
def test_a_wrong_value(hamr):
    pass


@pytest.mark.hamr(wire="live", sites="eu1 mars1")
def test_a_datacenter_hamr_does_not_know_is_one_more(hamr):
    assert "mars1" in hamr.sites
"""
    )
    ran = pytester.runpytest_subprocess("-p", "no:randomly", "-q")
    ran.assert_outcomes(errors=3, passed=1)
    ran.stdout.fnmatch_lines(
        [
            "*hamr (the hamr_* ini options): wire must be one of both, live, contract, not 'json'",
            "*@pytest.mark.hamr takes only keywords, of transitions, wire, stuck_after_seconds, "
            "sites, database; got transition",
            "*hamr (@pytest.mark.hamr of test_mistakes.py::test_a_wrong_value): "
            "stuck_after_seconds must be a number, not 'soon'",
        ],
        consecutive=False,
    )


def test_hamr_database_puts_the_session_server_on_postgresql(
    pytester: pytest.Pytester, postgres: PostgresServer
) -> None:
    postgres.create_database("hamr_plugin")
    pytester.makeini(f"[pytest]\nhamr_database = {postgres.url_for('hamr_plugin')}\n")
    pytester.makepyfile(
        test_on_postgres="""
def test_the_fixture_works_on_postgresql(hamr):
    hamr.set_status(3, primary=hamr.primary)
    assert hamr.history(hamr.secondary)[-1]["attributes"]["after"]["hamr_status"] == 3
"""
    )
    run(pytester).assert_outcomes(passed=1)
    engine = sa.create_engine(postgres.url_for("hamr_plugin"))
    with engine.connect() as db:
        assert db.execute(sa.text("SELECT count(*) FROM history")).scalar() == 3
    engine.dispose()


def test_the_orgs_carry_a_key_of_each_permission(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_keys="""
import httpx


def test_each_key_is_its_own_and_does_what_its_permission_allows(hamr):
    for org in (hamr.primary, hamr.secondary):
        keys = {org.app_key, org.read_app_key, org.admin_app_key}
        assert len(keys) == 3 and all(len(key) == 40 for key in keys)
    url = hamr.url + "/api/v2/hamr/pair/failover"
    body = {"reason": "drill", "dry_run": True}
    for permission, status in (("read", 403), ("write", 200), ("admin", 200)):
        headers = hamr.secondary.headers_as(permission)
        assert httpx.get(hamr.url + "/api/v2/hamr", headers=headers).status_code == 200
        assert httpx.post(url, json=body, headers=headers).status_code == status
"""
    )
    run(pytester).assert_outcomes(passed=1)
