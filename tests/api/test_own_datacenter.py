"""`--datacenter DC`: a hamr that is one site of a multi-site deployment serves only its own
datacenter's orgs, as Datadog's per-site API hosts do (the emulator's `--site` addresses give the
same 403); the other datacenters' keys get a 403 naming where to call instead."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import local_http
from tests.conftest import ServeProcess, run_cli, sqlite_url
from tests.store.test_postgres_processes import make_orgs

PATH = "/api/v2/hamr"


@pytest.fixture
def eu1_site(tmp_path: Path) -> Iterator[ServeProcess]:
    server = ServeProcess(
        sqlite_url(tmp_path / "hamr.db"), tmp_path / "server.log", "--datacenter", "eu1"
    ).start()
    yield server
    server.stop()


def test_only_the_sites_own_orgs_are_served_and_the_others_are_told_where_to_call(
    eu1_site: ServeProcess,
) -> None:
    (own,) = make_orgs(eu1_site.database_url, "eu1", 1)
    (elsewhere,) = make_orgs(eu1_site.database_url, "us1", 1)
    with local_http.client(base_url=eu1_site.url, timeout=10) as http:
        assert http.get(PATH, headers=own.headers).status_code == 404  # known, not yet linked
        refused = http.get(PATH, headers=elsewhere.headers)
        assert refused.status_code == 403, refused.text
        (error,) = refused.json()["errors"]
        assert error["source"] == {"header": "DD-API-KEY"}
        assert "This is the API host of the eu1 site" in error["detail"]
        assert (
            "an organization of us1; call its own site's host, the hamr of us1" in (error["detail"])
        )


def test_a_datacenter_hamr_does_not_know_is_one_line_and_exit_2(tmp_path: Path) -> None:
    database = sqlite_url(tmp_path / "hamr.db")
    result = run_cli("serve", "--database", database, "--datacenter", "mars")
    assert result.returncode == 2
    assert "datacenter must be one of the datacenters" in result.stderr
    assert "Traceback" not in result.stderr
