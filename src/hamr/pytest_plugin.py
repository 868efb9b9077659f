"""The `hamr` pytest plugin (entry point `pytest11`): one emulator for the session, reset to
the demo pair before every test that asks for the `hamr` fixture.

    def test_failover(hamr):
        api = HighAvailabilityMultiRegionApi(ApiClient(hamr.configuration(hamr.secondary)))
        ...
        hamr.clock.advance(960)
        assert hamr.history(hamr.primary)[-1]["attributes"]["after"]["hamr_status"] == 4

The session's server is configured by ini options (`hamr_transitions`, `hamr_wire`,
`hamr_stuck_after_seconds`, `hamr_sites`, `hamr_database`); a test marked
`@pytest.mark.hamr(transitions="enforce", ...)` gets a server of its own with those settings
over the ini's (shared by the tests that ask for the same)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from hamr.domain.rules import DEFAULT_DATACENTERS
from hamr.settings import SETTINGS, SettingsError
from hamr.testing import EmulatorClock, HamrServer, TestOrg
from hamr.usecases.demo import BACKUP, PRODUCTION

if TYPE_CHECKING:
    from datadog_api_client import Configuration

# Each option: its help, and its default as the ini would spell it.
OPTIONS = {
    "transitions": ("status moves outside the HAMR lifecycle: off, warn or enforce", "warn"),
    "wire": ("response format: both, live or contract", "both"),
    "stuck_after_seconds": ("a pair in FAILOVER or RECOVERY this long reads stuck", ""),
    "sites": (
        "datacenters, space-separated, each served on its own host (hamr.sites)",
        f"{PRODUCTION.datacenter} {BACKUP.datacenter}",
    ),
    "database": ("a PostgreSQL URL instead of a private SQLite file (a reset wipes it)", ""),
}
MARKER = (
    "hamr(transitions=, wire=, stuck_after_seconds=, sites=, database=): this test's own hamr "
    "server, with these settings over the hamr_* ini options"
)
Wanted = tuple[tuple[str, str], ...]


class Hamr:
    """What a test gets: the server's URL, the demo pair's orgs with fresh keys, the clock,
    and helpers for the official client, the pair and its history."""

    def __init__(self, server: HamrServer, primary: TestOrg, secondary: TestOrg):
        self.server = server
        self.url = server.url
        self.primary = primary
        self.secondary = secondary
        self.clock: EmulatorClock = server.clock
        self.sites = server.site_urls  # each datacenter's own host, as --site serves it

    def configuration(
        self, org: TestOrg, url: str | None = None, *, permission: str | None = None
    ) -> Configuration:
        """The official client's Configuration for `org`, at hamr's main address or `url`
        (a site's: `hamr.sites["us1"]`), with its write key or the key of `permission`."""
        return self.server.configuration(org, url, permission=permission)

    def fault(self, **rule: Any) -> contextlib.AbstractContextManager[str]:
        """A fault rule (as `POST /_hamr/faults` takes it) in force inside the `with` block."""
        return self.server.fault(**rule)

    def faults(self) -> list[dict[str, Any]]:
        """The rules in force, each with how often it `fired`."""
        return self.server.faults()

    def history(self, org: TestOrg) -> list[dict[str, Any]]:
        """The org's pair's history rows, oldest first (docs/emulator.md shows a row)."""
        return self.server.history(org)

    def pair(self, org: TestOrg) -> dict[str, Any]:
        """The document `GET /api/v2/hamr/pair` answers `org`."""
        return self.server.pair(org)

    def set_status(self, status: object, *, primary: TestOrg) -> dict[str, Any]:
        """The pair at `status` with `primary` primary, outside the lifecycle, recorded as the
        emulator's doing; the pair's document."""
        return self.server.set_status(status, primary=primary)

    def scenario(self, path: str | Path) -> list[TestOrg]:
        """Start from a scenario file instead of the demo pair; its orgs, in the file's order.
        `primary` and `secondary` become its first two, when it has two."""
        orgs = self.server.scenario(path)
        if len(orgs) >= 2:
            self.primary, self.secondary = orgs[:2]
        return orgs


def pytest_addoption(parser: pytest.Parser) -> None:
    for name, (help, default) in OPTIONS.items():
        parser.addini(f"hamr_{name}", f"hamr: {help}", default=default)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


class Servers:
    """The session's servers, one per set of settings, started when first wanted."""

    def __init__(self) -> None:
        self._started: dict[Wanted, HamrServer] = {}

    def get(self, wanted: Mapping[str, str], where: str) -> HamrServer:
        key = tuple(sorted(wanted.items()))
        if key not in self._started:
            self._started[key] = _started(wanted, where)
        return self._started[key]

    def stop(self) -> None:
        for server in self._started.values():
            server.stop()


def _started(wanted: Mapping[str, str], where: str) -> HamrServer:
    """A server with these settings (the options' names, the ini's spelling), or a failure
    naming `where` they were given."""
    rows = {row.name: row for row in SETTINGS}
    settings: dict[str, Any] = {}
    sites = wanted["sites"].replace(",", " ").split()
    settings["datacenters"] = frozenset(DEFAULT_DATACENTERS) | set(sites)
    server = None
    try:
        for name in ("transitions", "wire", "stuck_after_seconds"):
            if wanted[name]:
                settings[name] = rows[name].read(wanted[name], name)
        server = HamrServer(wanted["database"] or None, sites=sites, **settings)
        return server.start()
    except SettingsError as error:
        if server is not None:
            server.stop()
        pytest.fail(f"hamr ({where}): {error}", pytrace=False)


def _ini(config: pytest.Config) -> dict[str, str]:
    return {name: str(config.getini(f"hamr_{name}")).strip() for name in OPTIONS}


def _marked(wanted: dict[str, str], marker: pytest.Mark) -> dict[str, str]:
    """The ini's settings with the marker's over them; a name the marker does not take, or an
    argument without its name, fails the test."""
    unknown = sorted(set(marker.kwargs) - set(OPTIONS))
    if marker.args or unknown:
        pytest.fail(
            f"@pytest.mark.hamr takes only keywords, of {', '.join(OPTIONS)}; got "
            f"{', '.join(map(repr, marker.args)) or ', '.join(unknown)}",
            pytrace=False,
        )
    for name, value in marker.kwargs.items():
        is_list = isinstance(value, list | tuple)
        wanted[name] = " ".join(map(str, value)) if is_list else str(value)
    return wanted


@pytest.fixture(scope="session")
def hamr_servers() -> Iterator[Servers]:
    servers = Servers()
    yield servers
    servers.stop()


@pytest.fixture(scope="session")
def hamr_server(pytestconfig: pytest.Config, hamr_servers: Servers) -> HamrServer:
    """The session's emulator: `hamr serve --emulator` in a thread, on its own database (or
    `hamr_database`), with a site of its own for each datacenter of `hamr_sites`."""
    return hamr_servers.get(_ini(pytestconfig), "the hamr_* ini options")


@pytest.fixture
def hamr(request: pytest.FixtureRequest, hamr_servers: Servers) -> Iterator[Hamr]:
    """The emulator, reset to the demo pair (PASSIVE, fresh keys) and the real time: the
    session's, or the marker's server when the test is marked `hamr`."""
    marker = request.node.get_closest_marker("hamr")
    if marker is None:
        server: HamrServer = request.getfixturevalue("hamr_server")
    else:
        wanted = _marked(_ini(request.config), marker)
        server = hamr_servers.get(wanted, f"@pytest.mark.hamr of {request.node.nodeid}")
    server.clock.real()
    primary, secondary = server.reset("demo")
    yield Hamr(server, primary, secondary)
    server.clock.real()
