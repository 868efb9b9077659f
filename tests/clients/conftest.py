"""Datadog's documented HAMR examples (../shared/seeds/) run against hamr, each kept as a file
beside this one with only its host changed.

The documented POST body is sent unchanged, so the database must make it valid: its `data.id`,
550e8400-e29b-41d4-a716-446655440000, has to be the caller's own organization, and its target
datacenter, us1, has to differ from the caller's. So each backend gets a fresh database in
which `hamr org create --uuid 550e8400-... --datacenter eu1` makes that caller, and a
`hamr serve` on it, shared by the example tests of the session. No test relies on another having
run or not: each makes the state it starts from (a GET test POSTs first; a POST test counts the
history rows before it), and the organization whose "no connection yet" they check never gets
one.

hamr's default wire format, `both`, answers with the contract's seven attributes followed by the
live API's eight (PascalCase, `ModifiedAt` like `2026-05-28 16:34:21.636477`, datacenters like
`us1.prod.dog`, and the caller's own `OrgDatacenter`): the examples must read what the pages
document from it, and find the live attributes beside it with the right values. A second
`hamr serve --wire contract` on the same database answers with the contract's bytes alone,
where an example's point is fidelity to the documented response. (Each test reads from the
server it wrote through: another server's cache learns of a write only at its next refresh.)

The examples' text is checked against the seeds too: `seed_page`, `fenced_blocks`,
`seed_curl_commands` and `code_lines` take the snippets out of Datadog's pages and compare
them, comments aside, with the files here."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hamr.domain.model import format_timestamp
from hamr.store.sql import open_store
from tests import local_http
from tests.conftest import (
    GENEROUS_RATE_LIMITS,
    PYTHON,
    Admin,
    OrgKeys,
    ServeProcess,
    reference,
    run_cli,
    sqlite_url,
)
from tests.postgres import PostgresServer

CLIENTS = Path(__file__).resolve().parent
SEEDS = Path(os.environ.get("HAMR_SEEDS", reference("seeds")))
GET_PAGE = "000_8e49c40a6aa1d7be.txt"
POST_PAGE = "001_7557d1427d4d5f97.txt"
PATH = "/api/v2/hamr"
RFC3339_MICROS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

# The values in Datadog's documented request body and example response.
SEED_ORG_UUID = "550e8400-e29b-41d4-a716-446655440000"
SEED_ATTRIBUTES: dict[str, Any] = {
    "hamr_status": 4,
    "is_primary": True,
    "modified_by": "admin@example.com",
    "target_org_datacenter": "us1",
    "target_org_name": "Production Backup Org",
    "target_org_uuid": "660f9511-f3ac-52e5-b827-557766551111",
}
SEED_BODY: dict[str, Any] = {
    "data": {"attributes": SEED_ATTRIBUTES, "id": SEED_ORG_UUID, "type": "hamr_org_connections"}
}


# The contract's response attributes, in the documented order.
CONTRACT_ORDER = (
    "hamr_status",
    "is_primary",
    "modified_at",
    "modified_by",
    "target_org_datacenter",
    "target_org_name",
    "target_org_uuid",
)
# The live API's, in its order.
LIVE_ORDER = (
    "HamrStatus",
    "IsPrimary",
    "ModifiedAt",
    "ModifiedBy",
    "OrgDatacenter",
    "TargetOrgDatacenter",
    "TargetOrgName",
    "TargetOrgUuid",
)
WIRES = ("both", "contract")


def documented_response(modified_at: str) -> dict[str, Any]:
    """The documented 200 response to GET (and POST), with this `modified_at`."""
    attributes = {**SEED_ATTRIBUTES, "modified_at": modified_at}
    return {
        "data": {
            "attributes": {name: attributes[name] for name in CONTRACT_ORDER},
            "id": SEED_ORG_UUID,
            "type": "hamr_org_connections",
        }
    }


def live_timestamp(modified_at: str) -> str:
    """`modified_at` (RFC 3339, µs, Z) as the live API writes ModifiedAt: a space for the T,
    and no zone."""
    assert RFC3339_MICROS_Z.match(modified_at), modified_at
    return modified_at.replace("T", " ").removesuffix("Z")


def live_attributes(modified_at: str) -> dict[str, Any]:
    """The documented connection in the live API's spelling, as its caller (eu1) reads it."""
    return {
        "HamrStatus": 4,
        "IsPrimary": True,
        "ModifiedAt": live_timestamp(modified_at),
        "ModifiedBy": "admin@example.com",
        "OrgDatacenter": "eu1.prod.dog",
        "TargetOrgDatacenter": "us1.prod.dog",
        "TargetOrgName": "Production Backup Org",
        "TargetOrgUuid": "660f9511-f3ac-52e5-b827-557766551111",
    }


def served_response(wire: str, modified_at: str) -> dict[str, Any]:
    """What hamr answers for the documented connection in `wire`: in `contract`, the
    documented response; in `both`, its attributes followed by the live API's."""
    document = documented_response(modified_at)
    if wire == "both":
        document["data"]["attributes"].update(live_attributes(modified_at))
    return document


def assert_same_document(got: Any, expected: dict[str, Any]) -> None:
    """Equal, and with the attributes in the same order."""
    assert got == expected
    assert list(got["data"]["attributes"]) == list(expected["data"]["attributes"])


@dataclass(frozen=True)
class SeedHamr:
    """hamr servers on a database of their own, holding the documented caller (`org`, eu1) and
    an organization that never gets a connection (`stranger`, us3: neither the caller's eu1 nor
    the documented target's us1, so the documented body's only fault from its keys is
    `data.id`). One server per wire format; `server` is the one of `wire` (see `on`)."""

    servers: Mapping[str, ServeProcess]
    admin: Admin
    org: OrgKeys
    stranger: OrgKeys
    wire: str = "both"

    @property
    def server(self) -> ServeProcess:
        return self.servers[self.wire]

    def on(self, wire: str) -> SeedHamr:
        """The same database, through the server of that wire format."""
        return dataclasses.replace(self, wire=wire)

    def expected(self, modified_at: str) -> dict[str, Any]:
        """What this server answers for the documented connection."""
        return served_response(self.wire, modified_at)

    def env(self, org: OrgKeys | None = None) -> dict[str, str]:
        """The environment an example runs in: the documented DD_API_KEY and DD_APP_KEY, and
        HAMR_URL for the host; no DD_SITE or other DD_* variable leaks in from outside."""
        keys = org or self.org
        base = {name: value for name, value in os.environ.items() if not name.startswith("DD_")}
        return {
            **base,
            "HAMR_URL": self.server.url,
            "DD_API_KEY": keys.api_key,
            "DD_APP_KEY": keys.app_key,
            "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1",
        }

    def get(self, org: OrgKeys | None = None) -> httpx.Response:
        """GET /api/v2/hamr over plain HTTP, to compare an example's output with."""
        keys = org or self.org
        return local_http.get(self.server.url + PATH, headers=keys.headers, timeout=10)

    def post_documented_body(self) -> httpx.Response:
        """Store the documented connection over plain HTTP, as a precondition."""
        response = local_http.post(
            self.server.url + PATH, headers=self.org.headers, json=SEED_BODY, timeout=10
        )
        assert response.status_code == 200, response.text
        return response


def assert_documented_connection_stored(
    seed: SeedHamr, history_before: int, modified_at: str
) -> None:
    """The documented request was accepted exactly once, and is what hamr now stores and serves."""
    assert RFC3339_MICROS_Z.match(modified_at), modified_at
    stored = seed.admin.connection(SEED_ORG_UUID)
    assert stored is not None
    assert format_timestamp(stored.modified_at_us) == modified_at
    assert {
        "hamr_status": int(stored.hamr_status),
        "is_primary": stored.is_primary,
        "modified_by": stored.modified_by,
        "target_org_datacenter": stored.target_org_datacenter,
        "target_org_name": stored.target_org_name,
        "target_org_uuid": stored.target_org_uuid,
    } == SEED_ATTRIBUTES
    history = seed.admin.history(SEED_ORG_UUID)
    assert len(history) == history_before + 1
    assert history[-1].after == {**SEED_ATTRIBUTES, "modified_at": modified_at}
    assert history[-1].modified_by == "admin@example.com"
    assert history[-1].key_id in {key.id for key in seed.admin.service.list_keys(SEED_ORG_UUID)}
    served = seed.get()
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/json"
    assert_same_document(served.json(), seed.expected(modified_at))


def run_example(
    command: list[str], env: Mapping[str, str], cwd: Path = CLIENTS, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run one example as its instructions say, with this environment."""
    return subprocess.run(
        command, cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout
    )


def run_python_example(name: str, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    return run_example([PYTHON, str(CLIENTS / "python" / name)], env)


def create_org_with_cli(database_url: str, name: str, datacenter: str, *extra: str) -> OrgKeys:
    created = run_cli(
        "org",
        "create",
        "--name",
        name,
        "--datacenter",
        datacenter,
        "--json",
        *extra,
        database_url=database_url,
    )
    assert created.returncode == 0, created.stderr
    fields = json.loads(created.stdout)
    return OrgKeys(
        fields["uuid"], fields["name"], fields["datacenter"], fields["api_key"], fields["app_key"]
    )


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def seed_hamr(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SeedHamr]:
    """One fresh database per backend, and a server of each wire format on it."""
    workdir = tmp_path_factory.mktemp("seed")
    if request.param == "sqlite":
        database_url = sqlite_url(workdir / "hamr.db")
    else:
        postgres: PostgresServer = request.getfixturevalue("postgres")
        name = f"hamr_seed_{uuid.uuid4().hex[:8]}"
        postgres.create_database(name)
        database_url = postgres.url_for(name)
    # The documented caller: its UUID is the body's data.id, and eu1 makes the body's us1
    # target a datacenter other than its own.
    org = create_org_with_cli(database_url, "Production Org", "eu1", "--uuid", SEED_ORG_UUID)
    assert org.uuid == SEED_ORG_UUID
    assert org.datacenter == "eu1"
    store = open_store(database_url)
    admin = Admin(store)
    # hamr's default is `both`: that server is given no --wire, as a user's `hamr serve`
    # would not, nor an HAMR_WIRE from the environment the tests run in.
    env = {name: value for name, value in os.environ.items() if name != "HAMR_WIRE"}
    env["HAMR_RATE_LIMITS"] = GENEROUS_RATE_LIMITS
    servers = {
        "both": ServeProcess(database_url, workdir / "server.log", env=env),
        "contract": ServeProcess(
            database_url, workdir / "contract.log", "--wire", "contract", env=env
        ),
    }
    try:
        stranger = admin.create_org("us3", "Stranger Org")
        for server in servers.values():
            server.start()
        yield SeedHamr(servers, admin, org, stranger)
    finally:
        for server in servers.values():
            server.stop()
        store.close()


def seed_page(name: str) -> str:
    """One of Datadog's documentation pages the examples come from (../shared/seeds/, or
    HAMR_SEEDS). Like the contract beside them, they are required: a missing page fails the
    check that the examples are still Datadog's, rather than skipping it."""
    path = SEEDS / name
    if not path.is_file():
        pytest.fail(f"Datadog's documentation page {path} is not here (set HAMR_SEEDS)")
    return path.read_text()


def fenced_blocks(page: str, language: str) -> list[str]:
    """The page's ```LANGUAGE code blocks."""
    return re.findall(rf"^```{re.escape(language)}\n(.*?)^```", page, re.MULTILINE | re.DOTALL)


def seed_curl_commands(page: str) -> list[str]:
    """The page's curl commands. The page renders each as a "\\# Curl command" comment run
    together with the first line of the command, and ends it with a whitespace-only line."""
    lines = page.splitlines()
    commands = []
    for index, line in enumerate(lines):
        if line.strip().startswith("\\# Curl command"):
            command = [line.strip().removeprefix("\\# Curl command").strip()]
            for following in lines[index + 1 :]:
                if not following.strip():
                    break
                command.append(following)
            commands.append("\n".join(command) + "\n")
    return commands


def code_lines(text: str, comment: str) -> list[str]:
    """A snippet's code: its lines without comment-only lines (the explanations and pragmas
    added here) or trailing spaces, with runs of blank lines made one and none at the ends."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith(comment):
            continue
        line = line.rstrip()
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return lines


def replace_once(text: str, old: str, new: str) -> str:
    """`text` with its one occurrence of `old` replaced: a documented change must apply."""
    assert text.count(old) == 1, f"expected exactly one {old!r} in:\n{text}"
    return text.replace(old, new)
