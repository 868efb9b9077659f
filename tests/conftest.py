"""Real servers on real sockets: `hamr serve` runs as a subprocess on a free port against a
real SQLite file; orgs and keys are made through the same service the CLI uses."""

from __future__ import annotations

import collections
import functools
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.v2.api.high_availability_multi_region_api import (
    HighAvailabilityMultiRegionApi,
)
from jsonschema import Draft202012Validator
from jsonschema.validators import validator_for

from hamr.domain.model import Connection, HistoryEntry, KeyKind
from hamr.domain.rules import DEFAULT_DATACENTERS
from hamr.emulator.admin_auth import ADMIN_HEADER
from hamr.emulator.client import EmulatorAdmin
from hamr.store.sql import SqlStore, open_store
from hamr.testing import TestOrg
from hamr.usecases.demo import BACKUP, PRODUCTION
from hamr.usecases.service import HamrService
from tests import local_http
from tests.postgres import PostgresServer, binaries_or_skip

ROOT = Path(__file__).resolve().parents[1]
# The published contract and Datadog's reference pages live beside the project, in ../shared;
# tests/reference/ keeps copies (checked equal to ../shared where it exists), so that a clone
# anywhere runs the whole suite.
SHARED = ROOT.parent / "shared"
REFERENCE = ROOT / "tests" / "reference"


def reference(relative: str) -> Path:
    """../shared/RELATIVE when this clone sits beside it, else the copy in tests/reference/."""
    beside = SHARED / relative
    return beside if beside.exists() else REFERENCE / relative


SPEC = Path(os.environ.get("HAMR_SPEC", reference("spec/hamr-v2.openapi.yaml")))
PYTHON = sys.executable
# The contract's request attributes, in its order.
ATTRIBUTE_NAMES = (
    "hamr_status",
    "is_primary",
    "modified_by",
    "target_org_datacenter",
    "target_org_name",
    "target_org_uuid",
)
GENEROUS_RATE_LIMITS = ",".join(
    f"{bucket}=1000000/60" for bucket in ("hamr_get", "hamr_post", "hamr_unauthenticated")
)


# Datadog's rate limit headers, on every answer to a request that was counted.
QUOTA_HEADERS = {
    f"x-ratelimit-{name}" for name in ("limit", "period", "remaining", "reset", "name")
}


def quota_headers(response: httpx.Response) -> dict[str, str]:
    """The X-RateLimit-* headers of a response, by lowercase name."""
    return {
        name: value for name, value in response.headers.items() if name.startswith("x-ratelimit-")
    }


# Ports this process has handed out: the kernel may offer a port again once its probe socket
# is closed, and a server given the port of another (its site's, say) would not start.
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port free now and never handed out before by this process."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


# Tests that share what one machine has only once run in one xdist worker, one after another:
# the multi-site lab (its namespaces and 127.0.0.x addresses) and rootful podman's storage.
# Every other module is a group of its own, so that its module-scoped servers start once.
_SHARED_GROUPS = {
    "tests/multisite/": "multi-site lab",
    "tests/ops/test_container.py": "podman",
    "tests/test_ci_recipes.py": "podman",
}


# The groups that take longest, longest first (seconds of one worker, measured 2026-12-06 on
# 2 cores: 190, 127, 92, 91, 86, 73, 65, 64, 58): they are handed out first and the rest after
# them, most tests first, so that the run does not end with one worker alone on a long group.
# pyproject's `--no-loadscope-reorder` keeps xdist from re-sorting the groups by test count.
_LONGEST_FIRST = (
    "multi-site lab",
    "tests/contract/test_schemathesis.py",
    "podman",
    "tests/api/test_datacenter_failover.py",
    "tests/contract/test_lifecycle_stateful.py",
    "tests/bench/test_harness.py",
    "tests/test_plugin_options.py",
    "tests/test_cli.py",
    "tests/store/test_history_chain.py",
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test's xdist group (`--dist loadgroup`): its module, or the shared resource it
    needs; and the groups in the order they are handed out. Applied before xdist reads the
    marks, which it does in the same hook."""
    groups: dict[pytest.Item, str] = {}
    for item in items:
        module = item.path.relative_to(ROOT).as_posix()
        groups[item] = next(
            (name for prefix, name in _SHARED_GROUPS.items() if module.startswith(prefix)), module
        )
        item.add_marker(pytest.mark.xdist_group(groups[item]))
    sizes = collections.Counter(groups.values())

    def handed_out(item: pytest.Item) -> tuple[int, int, str]:
        group = groups[item]
        if group in _LONGEST_FIRST:
            return _LONGEST_FIRST.index(group), 0, group
        return len(_LONGEST_FIRST), -sizes[group], group

    items.sort(key=handed_out)


@pytest.fixture(autouse=True)
def _an_inner_pytest_is_not_an_xdist_worker(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user's pytest that a `pytester` test runs is a session of its own, not one of this
    run's workers: without this it inherits the worker's environment (PYTEST_XDIST_WORKER)."""
    if "pytester" in request.fixturenames:
        for name in [name for name in os.environ if name.startswith("PYTEST_XDIST_")]:
            monkeypatch.delenv(name)


def run_cli(
    *args: str, database_url: str | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """Run `hamr ARGS` exactly as a user would (through the installed package)."""
    command = [PYTHON, "-m", "hamr", *args]
    if database_url is not None:
        command += ["--database", database_url]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, **kwargs)


class ServeProcess:
    """One `hamr serve` process; its combined output goes to a log file tests can read."""

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        *extra: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        prefix: Sequence[str] = (),
    ):
        """`prefix` goes before the command (`prlimit --nofile=...`, say)."""
        self.prefix = list(prefix)
        self.database_url = database_url
        self.cwd = cwd
        self.log_path = log_path
        self.extra = extra
        # Suites send many requests from one org and one address; rate limit tests pass their
        # own limits (flags override this bucket by bucket) or an environment without it.
        self.env = {**os.environ, "HAMR_RATE_LIMITS": GENEROUS_RATE_LIMITS} if env is None else env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, attempts: int = 3) -> ServeProcess:
        """Start and wait until it answers; a free port taken meanwhile is retried elsewhere."""
        for _ in range(attempts):
            if self._launch():
                return self
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
        raise RuntimeError(f"hamr serve could not bind a port:\n{self.log()}")

    def _launch(self) -> bool:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *self.prefix,
                    PYTHON,
                    "-m",
                    "hamr",
                    "serve",
                    "--port",
                    str(self.port),
                    "--database",
                    self.database_url,
                    *self.extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "address already in use" in self.log():
                    return False
                raise RuntimeError(f"hamr serve exited early:\n{self.log()}")
            try:
                local_http.get(f"{self.url}/healthz", timeout=1)
                return True
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"hamr serve did not answer within 30 s:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# An organization with keys to call it as: the one the pytest plugin gives users.
OrgKeys = TestOrg

# The admin token of the suite's emulators, and the header that carries it.
ADMIN_TOKEN = "emulator-admin-token-for-tests"
ADMIN = {ADMIN_HEADER: ADMIN_TOKEN}


class EmulatorServer(ServeProcess):
    """`hamr serve --emulator` with the suite's admin token and a site of its own (a port,
    `site_ports`) for each of the demo pair's datacenters; `admin` is hamr's client of its
    admin API."""

    def __init__(self, database_url: str, log_path: Path, *extra: str):
        self.site_ports = {dc: free_port() for dc in (PRODUCTION.datacenter, BACKUP.datacenter)}
        sites = [
            f for dc, port in self.site_ports.items() for f in ("--site", f"{dc}=127.0.0.1:{port}")
        ]
        super().__init__(
            database_url, log_path, "--emulator", "--admin-token", ADMIN_TOKEN, *sites, *extra
        )

    @property
    def site_urls(self) -> dict[str, str]:
        return {dc: f"http://127.0.0.1:{port}" for dc, port in self.site_ports.items()}

    @functools.cached_property
    def admin(self) -> EmulatorAdmin:
        return EmulatorAdmin(self.url, ADMIN_TOKEN)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if "admin" in self.__dict__:
            self.admin.close()
        super().stop(sig)

    def reset(self, seed: str = "demo") -> dict[str, OrgKeys]:
        """Start over (no rules; the clock as it was): the orgs `seed` made, by name."""
        done = self.admin.reset(seed)
        assert done["seed"] == seed
        return {org["name"]: OrgKeys(**org) for org in done["orgs"]}


class Admin:
    """The operator's view of a database, for making orgs and checking what is stored."""

    def __init__(self, store: SqlStore):
        self.store = store
        self.service = HamrService(store.unit_of_work, store.view, frozenset(DEFAULT_DATACENTERS))

    def create_org(self, datacenter: str = "us1", name: str | None = None) -> OrgKeys:
        org, api_key, app_key = self.service.create_org(
            name or f"org-{uuid.uuid4().hex[:8]}", datacenter
        )
        return OrgKeys(org.uuid, org.name, org.datacenter, api_key, app_key)

    def unseen_credentials(self, org: OrgKeys) -> dict[str, str]:
        """The org's API key with an application key issued just now: no server has them in
        memory yet, so the first request with them is authenticated from storage."""
        _record, app_key = self.service.create_key(org.uuid, KeyKind.APP)
        return {"DD-API-KEY": org.api_key, "DD-APPLICATION-KEY": app_key}

    def connection(self, org_uuid: str) -> Connection | None:
        return self.store.view.connection(org_uuid)

    def history(self, org_uuid: str) -> list[HistoryEntry]:
        return self.service.history(org_uuid)

    def snapshot(self, org_uuid: str) -> tuple[Connection | None, int]:
        """What a rejected request must leave untouched."""
        return self.connection(org_uuid), len(self.history(org_uuid))


def unknown_org(datacenter: str = "eu1", name: str | None = None) -> OrgKeys:
    """An organization hamr does not know (as in the contract's own examples): a connection
    naming it is one-sided, so any number of orgs may name it without pairing. No keys."""
    org_uuid = str(uuid.uuid4())
    return OrgKeys(org_uuid, name or f"elsewhere-{org_uuid[:8]}", datacenter, "", "")


def serving(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, *flags: str
) -> Iterator[ServeProcess]:
    """A server of its own on the suite's database, started with these `hamr serve` flags
    and stopped afterwards: for fixtures, as `yield from serving(...)`."""
    name = "-".join(flag.strip("-") for flag in flags) or "server"
    running = ServeProcess(database_url, tmp_path_factory.mktemp(name) / "server.log", *flags)
    yield running.start()
    running.stop()


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def database_of_its_own(
    name: str,
    database_url: str,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """A database on the suite's backend for one module's emulator: its resets delete
    everything in it."""
    if database_url.startswith("sqlite"):
        return sqlite_url(tmp_path_factory.mktemp(name) / f"{name}.db")
    postgres: PostgresServer = request.getfixturevalue("postgres")
    postgres.create_database(f"hamr_{name}")
    return postgres.url_for(f"hamr_{name}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session; skipped without binaries unless
    HAMR_REQUIRE_POSTGRES=1 (as in CI), when their absence fails."""
    server = PostgresServer(binaries_or_skip(), free_port()).init()
    server.create_database()
    yield server
    server.destroy()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The whole API suite runs once per backend."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path_factory.mktemp("db") / "hamr.db")
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.url


@pytest.fixture(scope="session")
def admin(database_url: str) -> Iterator[Admin]:
    store = open_store(database_url)
    yield Admin(store)
    store.close()


@pytest.fixture(scope="session")
def server(
    database_url: str, admin: Admin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    running = ServeProcess(database_url, tmp_path_factory.mktemp("log") / "server.log").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def wire(
    server: ServeProcess, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str], ServeProcess]]:
    """The server in a `--wire` mode: the suite's own for `both` (the default), one of this
    module's, started when first asked for, for `contract` and `live`."""
    started: dict[str, ServeProcess] = {}

    def running(mode: str) -> ServeProcess:
        if mode == "both":
            return server
        if mode not in started:
            log = tmp_path_factory.mktemp("log") / f"{mode}.log"
            started[mode] = ServeProcess(database_url, log, "--wire", mode).start()
        return started[mode]

    yield running
    for other in started.values():
        other.stop()


@pytest.fixture(scope="module")
def emulator_database(
    database_url: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The database of the module's emulator: its own, on the suite's backend, since a reset
    deletes everything in it. A module tested on SQLite alone overrides this."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    return database_of_its_own(name, database_url, request, tmp_path_factory)


@pytest.fixture(scope="module")
def emulator_flags() -> tuple[str, ...]:
    """Further `hamr serve` flags for the module's emulator; a module overrides this."""
    return ()


@pytest.fixture(scope="module")
def emulator(
    emulator_database: str,
    emulator_flags: tuple[str, ...],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[EmulatorServer]:
    """The module's emulator, on `emulator_database`, with `emulator_flags`."""
    log = tmp_path_factory.mktemp("emulator") / "server.log"
    running = EmulatorServer(emulator_database, log, *emulator_flags)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def org(admin: Admin) -> OrgKeys:
    """A fresh us1 organization with its keys."""
    return admin.create_org("us1")


@pytest.fixture
def partner(admin: Admin) -> OrgKeys:
    """A fresh eu1 organization, to be `org`'s partner."""
    return admin.create_org("eu1")


@pytest.fixture
def http(server: ServeProcess) -> Iterator[httpx.Client]:
    with local_http.client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture
def hamr_api(server: ServeProcess) -> Iterator[Callable[..., HighAvailabilityMultiRegionApi]]:
    """The official Python client, pointed at the test server (or `at` another) with an org's
    credentials."""
    clients: list[ApiClient] = []

    def make(
        org: OrgKeys | None = None,
        *,
        api_key: str | None = None,
        app_key: str | None = None,
        token: str | None = None,
        at: ServeProcess | None = None,
    ) -> HighAvailabilityMultiRegionApi:
        configuration = Configuration(host=(at or server).url, access_token=token)
        if org is not None or api_key is not None:
            configuration.api_key["apiKeyAuth"] = api_key or (org.api_key if org else "")
            configuration.api_key["appKeyAuth"] = app_key or (org.app_key if org else "")
        configuration.unstable_operations["get_hamr_org_connection"] = True
        configuration.unstable_operations["create_hamr_org_connection"] = True
        client = ApiClient(configuration)
        clients.append(client)
        return HighAvailabilityMultiRegionApi(client)

    yield make
    for client in clients:
        client.close()


def connection_body(org: OrgKeys, partner: OrgKeys, **attributes: Any) -> dict[str, Any]:
    """A valid POST body from `org` naming `partner`; keyword arguments override attributes."""
    return {
        "data": {
            "id": org.uuid,
            "type": "hamr_org_connections",
            "attributes": {
                "hamr_status": 2,
                "is_primary": True,
                "modified_by": "sre@example.com",
                "target_org_datacenter": partner.datacenter,
                "target_org_name": partner.name,
                "target_org_uuid": partner.uuid,
                **attributes,
            },
        }
    }


@pytest.fixture(scope="session")
def contract() -> dict[str, Any]:
    """The wire contract, ../shared/spec/hamr-v2.openapi.yaml."""
    with SPEC.open() as spec:
        return yaml.safe_load(spec)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def schema_validator(contract: dict[str, Any]) -> Callable[[str], Draft202012Validator]:
    """A JSON Schema validator for one of the contract's component schemas."""

    def make(name: str) -> Draft202012Validator:
        schema = {"$ref": f"#/components/schemas/{name}", "components": contract["components"]}
        cls = validator_for(schema, default=Draft202012Validator)
        return cls(schema)  # type: ignore[no-any-return]

    return make
