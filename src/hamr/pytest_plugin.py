"""The `hamr` pytest plugin (entry point `pytest11`): one emulator for the session, reset to
the demo pair before every test that asks for the `hamr` fixture.

    def test_failover(hamr):
        api = HighAvailabilityMultiRegionApi(ApiClient(hamr.configuration(hamr.secondary)))
        ...
        hamr.clock.advance(960)
        assert hamr.history(hamr.primary)[-1]["attributes"]["after"]["hamr_status"] == 4
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from hamr.testing import EmulatorClock, HamrServer, TestOrg
from hamr.usecases.demo import BACKUP, PRODUCTION

if TYPE_CHECKING:
    from datadog_api_client import Configuration


class Hamr:
    """What a test gets: the server's URL, the demo pair's orgs with fresh keys, the clock,
    and helpers for the official client and the pair's history."""

    def __init__(self, server: HamrServer, primary: TestOrg, secondary: TestOrg):
        self.server = server
        self.url = server.url
        self.primary = primary
        self.secondary = secondary
        self.clock: EmulatorClock = server.clock
        self.sites = server.site_urls  # each demo datacenter's own host, as --site serves it

    def configuration(self, org: TestOrg, url: str | None = None) -> Configuration:
        """The official client's Configuration for `org`, at hamr's main address or `url`
        (a site's: `hamr.sites["us1"]`)."""
        return self.server.configuration(org, url)

    def fault(self, **rule: Any) -> contextlib.AbstractContextManager[str]:
        """A fault rule (as `POST /_hamr/faults` takes it) in force inside the `with` block."""
        return self.server.fault(**rule)

    def faults(self) -> list[dict[str, Any]]:
        """The rules in force, each with how often it `fired`."""
        return self.server.faults()

    def history(self, org: TestOrg) -> list[dict[str, Any]]:
        return self.server.history(org)


@pytest.fixture(scope="session")
def hamr_server() -> Iterator[HamrServer]:
    """The session's emulator: `hamr serve --emulator` in a thread, on its own database, with
    a site of its own for each of the demo pair's datacenters."""
    with HamrServer(sites=(PRODUCTION.datacenter, BACKUP.datacenter)) as server:
        yield server


@pytest.fixture
def hamr(hamr_server: HamrServer) -> Iterator[Hamr]:
    """The emulator, reset to the demo pair (PASSIVE, fresh keys) and the real time."""
    hamr_server.clock.real()
    primary, secondary = hamr_server.reset("demo")
    yield Hamr(hamr_server, primary, secondary)
    hamr_server.clock.real()
