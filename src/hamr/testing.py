"""hamr for other people's test suites, without pytest: `HamrServer` runs `hamr serve
--emulator` in a thread of this process, on a free port and a database of its own, like moto's
ThreadedMotoServer:

    with HamrServer() as server:
        primary, secondary = server.reset()
        ...  # point the code under test at server.url with primary's keys

The pytest plugin (hamr.pytest_plugin) is built on it."""

from __future__ import annotations

import contextlib
import json
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import httpx

from hamr.domain.model import KeyKind, Permission
from hamr.emulator.client import EmulatorAdmin

if TYPE_CHECKING:
    from datadog_api_client import Configuration

    from hamr.usecases.service import HamrService

HISTORY_PAGE_SIZE = 1000


@dataclass(frozen=True, slots=True)
class TestOrg:
    """An organization of the emulator, with keys to call it as."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    uuid: str
    name: str
    datacenter: str
    api_key: str
    app_key: str  # permission write: a connection's POST
    read_app_key: str = ""  # permission read: GETs only
    admin_app_key: str = ""  # permission admin: pair operations under `enforce`, overrides

    @property
    def headers(self) -> dict[str, str]:
        return self.headers_as()

    def headers_as(self, permission: str | None = None) -> dict[str, str]:
        """The org's headers, with its application key of that permission (see app_key_for)."""
        return {"DD-API-KEY": self.api_key, "DD-APPLICATION-KEY": self.app_key_for(permission)}

    def app_key_for(self, permission: str | None = None) -> str:
        """The application key of that permission (read, write or admin); with none, the write
        key, else whichever the org has (a scenario may give only one)."""
        keys = {"write": self.app_key, "admin": self.admin_app_key, "read": self.read_app_key}
        if permission is None:
            permission = next((name for name, key in keys.items() if key), "write")
        if not keys.get(permission):
            raise ValueError(f"{self.name} has no application key of permission {permission!r}")
        return keys[permission]


class EmulatorClock:
    """What `/_hamr/clock` does, from Python: each call gives the emulator's time after it."""

    def __init__(self, admin: EmulatorAdmin):
        self._admin = admin

    def now(self) -> str:
        return str(self._admin.clock()["now"])

    def advance(self, seconds: float) -> str:
        return str(self._admin.clock(advance_seconds=seconds)["now"])

    def set(self, rfc3339: str) -> str:
        return str(self._admin.clock(set=rfc3339)["now"])

    def real(self) -> None:
        self._admin.clock(real=True)


class HamrServer:
    """`hamr serve --emulator` in a daemon thread, on 127.0.0.1 and a free port. Without a
    `database_url`, a SQLite file in a temporary directory removed at exit. Each datacenter in
    `sites` also gets its own address (`site_urls`), as `--site` gives it. Once started, `admin`
    is the emulator's admin API client and `clock` its clock."""

    __test__ = False
    admin: EmulatorAdmin
    clock: EmulatorClock
    _service: HamrService
    # The organizations' own reads (`pair`, `history`): one client, since each client httpx
    # makes loads the CA bundle, ~50 ms of CPU.
    _reads: httpx.Client

    def __init__(
        self, database_url: str | None = None, *, sites: Sequence[str] = (), **settings: Any
    ):
        self._scratch = tempfile.TemporaryDirectory(prefix="hamr-") if not database_url else None
        if self._scratch is not None:
            database_url = f"sqlite:///{Path(self._scratch.name) / 'hamr.db'}"
        self.database_url = database_url
        self.admin_token = settings.pop("admin_token", None) or secrets.token_urlsafe(24)
        self._settings = settings
        self._site_names = tuple(sites)
        self.site_urls: dict[str, str] = {}
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self.url = ""

    def start(self) -> Self:
        from hamr.bootstrap import create_app
        from hamr.server.listen import listening_sockets, server_for
        from hamr.settings import Settings, Site

        sockets = [listening_sockets("127.0.0.1", 0)[0] for _ in range(1 + len(self._site_names))]
        port, *site_ports = (sock.getsockname()[1] for sock in sockets)
        sites = tuple(map(Site, self._site_names, ["127.0.0.1"] * len(sockets), site_ports))
        settings = Settings(
            database_url=str(self.database_url),
            port=port,
            emulator=True,
            admin_token=self.admin_token,
            sites=sites,
            **self._settings,
        )
        self.url = f"http://127.0.0.1:{port}"
        self.site_urls = {site.datacenter: f"http://{site.address}" for site in sites}
        self.admin = EmulatorAdmin(self.url, self.admin_token)
        self._reads = httpx.Client(base_url=self.url, timeout=30)
        self.clock = EmulatorClock(self.admin)
        app = create_app(settings)
        assert app.emulator is not None  # a HamrServer is always an emulator
        self._service = app.emulator.service
        self._server = server_for(app, settings, app.emulator.faults)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": sockets}, name="hamr", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("hamr did not start; see its log lines above")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
            self.admin.close()
            self._reads.close()
        if self._scratch is not None:
            self._scratch.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def reset(self, seed: str = "demo") -> list[TestOrg]:
        """Start over: the demo pair with fresh keys (primary first), or nothing. Each org also
        gets an application key of permission read and one of admin, made here."""
        return [self._with_more_keys(TestOrg(**org)) for org in self.admin.reset(seed)["orgs"]]

    def _with_more_keys(self, org: TestOrg) -> TestOrg:
        """The org with a read and an admin application key, made through hamr's service (the
        reset answers only the write key the demo makes)."""
        made = {
            permission: self._service.create_key(org.uuid, KeyKind.APP, permission)[1]
            for permission in (Permission.READ, Permission.ADMIN)
        }
        return replace(
            org, read_app_key=made[Permission.READ], admin_app_key=made[Permission.ADMIN]
        )

    def scenario(self, path: str | Path) -> list[TestOrg]:
        """Start from a scenario file (a state as `GET /_hamr/state` gives it, whose keys may
        carry their `secret`, as `hamr serve --state` takes it): its orgs, in the file's order,
        each with the unrevoked keys whose secrets it gives."""
        document = Path(path).read_bytes()
        self.admin.load_state(document)
        return scenario_orgs(json.loads(document)["data"]["attributes"])

    def pair(self, org: TestOrg) -> dict[str, Any]:
        """Where the org's pair stands: the document `GET /api/v2/hamr/pair` answers it."""
        answer = self._reads.get("/api/v2/hamr/pair", headers=org.headers)
        answer.raise_for_status()
        document: dict[str, Any] = answer.json()
        return document

    def set_status(self, status: object, *, primary: TestOrg) -> dict[str, Any]:
        """Put `primary`'s pair at `status` (a number, a name, or an enum of hamr's or of the
        official client's) with `primary` primary, outside the lifecycle, as the emulator's
        doing (`POST /_hamr/pair`); the pair's document."""
        value = getattr(status, "value", status)
        if not isinstance(value, int | str):
            raise TypeError(f"a status is a number or a name, not {status!r}")
        return self.admin.move_pair(value, primary.uuid)

    def add_fault(self, **rule: Any) -> str:
        """Put a fault rule in force (as `POST /_hamr/faults` takes it); its id."""
        return str(self.admin.add(rule)[0]["id"])

    def remove_fault(self, rule_id: str) -> None:
        self.admin.remove(rule_id)

    def faults(self) -> list[dict[str, Any]]:
        """The rules in force, in order, each with how often it `fired`."""
        return self.admin.rules()

    @contextlib.contextmanager
    def fault(self, **rule: Any) -> Iterator[str]:
        """A fault rule in force for the `with` block only; yields its id."""
        rule_id = self.add_fault(**rule)
        try:
            yield rule_id
        finally:
            self.remove_fault(rule_id)

    def history(self, org: TestOrg) -> list[dict[str, Any]]:
        """The org's pair's history, oldest first, as `GET /api/v2/hamr/history` has it: each
        row `{"type", "id", "attributes": {"recorded_at", "modified_by", "key_id", "before",
        "after", ...}}`, `before` and `after` the connection as the org read it (docs/api.md)."""
        rows: list[dict[str, Any]] = []
        url = f"{self.url}/api/v2/hamr/history?page[size]={HISTORY_PAGE_SIZE}"
        while url:
            answer = self._reads.get(url, headers=org.headers)
            answer.raise_for_status()
            page = answer.json()
            rows += page["data"]
            following = page.get("links", {}).get("next")
            url = str(httpx.URL(self.url).join(following)) if following else ""
        return rows[::-1]

    def configuration(
        self, org: TestOrg, url: str | None = None, *, permission: str | None = None
    ) -> Configuration:
        """The official client's Configuration for `org`, at hamr's main address or `url`
        (a site's, from `site_urls`), with its application key of that permission (by default
        its write key, else whichever it has)."""
        return official_configuration(url or self.url, org, permission)


def scenario_orgs(state: dict[str, Any]) -> list[TestOrg]:
    """A scenario's orgs, in its order, each with the first unrevoked key of each kind and
    permission whose secret it gives ("" when it gives none)."""
    secrets_of: dict[tuple[str, str], str] = {}
    for key in state.get("keys", []):
        if key.get("secret") and key.get("revoked_at_us") is None:
            kind = "api" if key["kind"] == "api" else f"{key['kind']}:{key['permission']}"
            secrets_of.setdefault((key["org_uuid"], kind), key["secret"])
    return [
        TestOrg(
            uuid=org["uuid"],
            name=org["name"],
            datacenter=org["datacenter"],
            api_key=secrets_of.get((org["uuid"], "api"), ""),
            app_key=secrets_of.get((org["uuid"], "app:write"), ""),
            read_app_key=secrets_of.get((org["uuid"], "app:read"), ""),
            admin_app_key=secrets_of.get((org["uuid"], "app:admin"), ""),
        )
        for org in state["orgs"]
    ]


def official_configuration(url: str, org: TestOrg, permission: str | None = None) -> Configuration:
    """A `datadog_api_client.Configuration` for the org, at hamr's `url`, with the HAMR
    operations (unstable in the client) enabled."""
    from datadog_api_client import Configuration

    configuration = Configuration(host=url)  # type: ignore[no-untyped-call]
    configuration.api_key["apiKeyAuth"] = org.api_key
    configuration.api_key["appKeyAuth"] = org.app_key_for(permission)
    configuration.unstable_operations["get_hamr_org_connection"] = True
    configuration.unstable_operations["create_hamr_org_connection"] = True
    return configuration
