"""The `hamr` command, run as an operator runs it: a subprocess on a fresh SQLite file.

Each invocation costs a Python start-up, so independent invocations run side by side.
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import sqlite3
import subprocess
import textwrap
import tomllib
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from click.testing import Result as ClickResult
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.v2.api.high_availability_multi_region_api import (
    HighAvailabilityMultiRegionApi,
)
from datadog_api_client.v2.model.hamr_org_connection_attributes_request import (
    HamrOrgConnectionAttributesRequest,
)
from datadog_api_client.v2.model.hamr_org_connection_data_request import (
    HamrOrgConnectionDataRequest,
)
from datadog_api_client.v2.model.hamr_org_connection_request import HamrOrgConnectionRequest
from datadog_api_client.v2.model.hamr_org_connection_status import HamrOrgConnectionStatus
from datadog_api_client.v2.model.hamr_org_connection_type import HamrOrgConnectionType

import hamr
from hamr.cli import main
from hamr.domain.rules import DEFAULT_DATACENTERS
from hamr.server.listen import CannotListen, listening_sockets
from hamr.store.sql import open_store
from hamr.usecases.demo import BACKUP, PRODUCTION
from hamr.usecases.service import HamrService
from tests import local_http
from tests.conftest import (
    PYTHON,
    OrgKeys,
    ServeProcess,
    connection_body,
    free_port,
    run_cli,
    sqlite_url,
)

API_KEY = re.compile(r"^[0-9a-f]{32}$")
APP_KEY = re.compile(r"^[0-9a-f]{40}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
ORG_FIELDS = {"uuid", "name", "datacenter", "api_key", "app_key"}
KEY_FIELDS = {"id", "org_uuid", "type", "permission", "created_at", "revoked_at"}
UNKNOWN = "00000000-0000-4000-8000-000000000000"
UNREACHABLE = "sqlite:////nonexistent-dir/x.db"
DUPLICATE = PRODUCTION.uuid.upper()  # same org, other spelling

Result = subprocess.CompletedProcess[str]
Cli = Callable[..., Result]


def parallel(cli: Cli, *invocations: Sequence[str]) -> list[Result]:
    """Run independent invocations side by side; results in the order given."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: cli(*args), invocations))


def ok(result: Result) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return result.stdout


def ok_json(result: Result) -> Any:
    return json.loads(ok(result))  # the whole of stdout is exactly one JSON document


def assert_operator_error(result: Result, *fragments: str) -> str:
    """Status 2, exactly one line on stderr, nothing on stdout, no traceback; returns the line."""
    assert result.returncode == 2, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def org_args(name: str, datacenter: str, *extra: str) -> tuple[str, ...]:
    return ("org", "create", "--name", name, "--datacenter", datacenter, "--json", *extra)


def as_org(result: Result) -> OrgKeys:
    return OrgKeys(**ok_json(result))


def text_fields(stdout: str, names: set[str]) -> dict[str, str]:
    """`name   value` lines of a text-mode listing."""
    pairs = [line.split(None, 1) for line in stdout.splitlines() if line.strip()]
    return {pair[0]: pair[1] for pair in pairs if pair[0] in names and len(pair) == 2}


def official_api(url: str, org: OrgKeys) -> tuple[ApiClient, HighAvailabilityMultiRegionApi]:
    configuration = Configuration(host=url)
    configuration.api_key["apiKeyAuth"] = org.api_key
    configuration.api_key["appKeyAuth"] = org.app_key
    configuration.unstable_operations["get_hamr_org_connection"] = True
    configuration.unstable_operations["create_hamr_org_connection"] = True
    client = ApiClient(configuration)
    return client, HighAvailabilityMultiRegionApi(client)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """`hamr ARGS --database <a fresh SQLite file>`."""
    url = sqlite_url(tmp_path / "cli.db")

    def run(*args: str) -> Result:
        return run_cli(*args, database_url=url)

    return run


@pytest.fixture(scope="module")
def shared_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    return sqlite_url(tmp_path_factory.mktemp("cli-shared") / "shared.db")


@pytest.fixture(scope="module")
def shared_server(
    shared_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    """One server on a database the tests also drive through the CLI."""
    running = ServeProcess(shared_db, tmp_path_factory.mktemp("cli-log") / "server.log").start()
    yield running
    running.stop()


@pytest.fixture
def shared_cli(shared_db: str, shared_server: ServeProcess) -> Cli:
    def run(*args: str) -> Result:
        return run_cli(*args, database_url=shared_db)

    return run


def test_a_verb_builds_the_service_without_loading_the_web_application(tmp_path: Path) -> None:
    """A command that needs only the service does not import the server, the API's app or
    the emulator's: they were most of what every `hamr` command spent starting."""
    url = sqlite_url(tmp_path / "cli.db")
    ok(run_cli("db", "upgrade", database_url=url))
    ran = subprocess.run(
        [PYTHON, "-X", "importtime", "-m", "hamr", "org", "list", "--database", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in ran.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "hamr.usecases.service" in imported  # the service was built
    web = ("uvicorn", "hamr.api.app", "hamr.server", "hamr.emulator.routes", "hamr.api.ui")
    assert not {name for name in imported if name.startswith(web)}


# -- org -------------------------------------------------------------------------------------


def test_org_create_json_text_uuid_and_list(cli: Cli) -> None:
    chosen = str(uuid.uuid4())
    ok(cli("db", "upgrade"))  # so that the concurrent creates below do not race the migration
    as_json, as_text, with_uuid = parallel(
        cli,
        org_args("Acme", "us1"),
        ("org", "create", "--name", "Text Org", "--datacenter", "ap1"),
        org_args("Chosen", "eu1", "--uuid", chosen.upper()),
    )

    created = ok_json(as_json)
    assert isinstance(created, dict)
    assert set(created) == ORG_FIELDS
    assert created["name"] == "Acme"
    assert created["datacenter"] == "us1"
    assert str(uuid.UUID(created["uuid"])) == created["uuid"]
    assert API_KEY.match(created["api_key"])
    assert APP_KEY.match(created["app_key"])

    text = ok(as_text)
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    fields = text_fields(text, ORG_FIELDS)
    assert set(fields) == ORG_FIELDS
    assert fields["name"] == "Text Org"
    assert fields["datacenter"] == "ap1"
    assert API_KEY.match(fields["api_key"])
    assert APP_KEY.match(fields["app_key"])
    assert "shown only now" in text

    chosen_org = as_org(with_uuid)
    assert chosen_org.uuid == chosen  # stored lowercased
    assert len({created["api_key"], fields["api_key"], chosen_org.api_key}) == 3
    assert len({created["app_key"], fields["app_key"], chosen_org.app_key}) == 3

    listed_json, listed_text = parallel(cli, ("org", "list", "--json"), ("org", "list"))
    expected = [
        {"uuid": created["uuid"], "name": "Acme", "datacenter": "us1"},
        {"uuid": fields["uuid"], "name": "Text Org", "datacenter": "ap1"},
        {"uuid": chosen, "name": "Chosen", "datacenter": "eu1"},
    ]
    assert sorted(ok_json(listed_json), key=str) == sorted(expected, key=str)
    lines = ok(listed_text).strip().splitlines()
    assert len(lines) == 3
    for org in expected:
        (line,) = [line for line in lines if line.startswith(org["uuid"])]
        assert org["datacenter"] in line.split()
        assert line.endswith(org["name"])
    for secret in (created["api_key"], created["app_key"], fields["api_key"], fields["app_key"]):
        assert secret not in listed_json.stdout + listed_text.stdout


def test_empty_listings_say_so_in_a_line_not_a_blank_one(cli: Cli) -> None:
    ok(cli("db", "upgrade"))
    orgs, orgs_json = parallel(cli, ("org", "list"), ("org", "list", "--json"))
    assert ok(orgs) == "no organizations\n"
    assert ok_json(orgs_json) == []
    org = as_org(cli(*org_args("Quiet", "us1")))
    history, history_json = parallel(
        cli, ("history", "--org", org.uuid), ("history", "--org", org.uuid, "--json")
    )
    assert ok(history) == "no history\n"
    assert ok_json(history_json) == []


# -- keys and tokens -------------------------------------------------------------------------


def test_key_and_token_lifecycle_never_shows_secrets_again(cli: Cli) -> None:
    org = as_org(cli(*org_args("Acme", "us1")))
    api_json, app_text, token_json, token_text = parallel(
        cli,
        ("key", "create", "--org", org.uuid, "--type", "api", "--json"),
        ("key", "create", "--org", org.uuid, "--type", "app"),
        ("token", "create", "--org", org.uuid, "--json"),
        ("token", "create", "--org", org.uuid),
    )

    api = ok_json(api_json)
    assert set(api) == KEY_FIELDS | {"key"}
    assert api["org_uuid"] == org.uuid
    assert api["type"] == "api"
    assert api["revoked_at"] is None
    assert TIMESTAMP.match(api["created_at"])
    assert API_KEY.match(api["key"])
    uuid.UUID(api["id"])

    app = text_fields(ok(app_text), {"id", "key"})
    assert APP_KEY.match(app["key"])
    assert "shown only now" in app_text.stdout

    token = ok_json(token_json)
    assert set(token) == KEY_FIELDS | {"key"}
    assert token["type"] == "token"
    assert token["key"].startswith("hamr_")
    assert len(token["key"]) >= 40
    token2 = text_fields(ok(token_text), {"id", "key"})
    assert token2["key"].startswith("hamr_")

    secrets = [org.api_key, org.app_key, api["key"], app["key"], token["key"], token2["key"]]
    assert len(set(secrets)) == len(secrets)

    stdout = ok(cli("key", "revoke", app["id"]))
    assert stdout.strip() == f"revoked app key {app['id']}"

    listed_json, listed_text, revoked_again = parallel(
        cli,
        ("key", "list", "--org", org.uuid, "--json"),
        ("key", "list", "--org", org.uuid),
        ("key", "revoke", app["id"]),  # revoking twice is harmless
    )
    already = re.fullmatch(
        rf"app key {app['id']} was already revoked at (\S+); nothing changed",
        ok(revoked_again).strip(),
    )
    assert already is not None, revoked_again.stdout
    for secret in secrets:
        assert secret not in listed_json.stdout
        assert secret not in listed_text.stdout
    listed = {k["id"]: k for k in ok_json(listed_json)}
    assert already.group(1) == listed[app["id"]]["revoked_at"]  # the first revocation's time
    assert all(set(k) == KEY_FIELDS for k in listed.values())
    assert sorted(k["type"] for k in listed.values()) == [
        "api",
        "api",
        "app",
        "app",
        "token",
        "token",
    ]
    assert {api["id"], app["id"], token["id"], token2["id"]} <= set(listed)
    assert {k["org_uuid"] for k in listed.values()} == {org.uuid}
    assert TIMESTAMP.match(listed[app["id"]]["revoked_at"])
    assert [i for i, k in listed.items() if k["revoked_at"] is not None] == [app["id"]]

    text_lines = ok(listed_text).strip().splitlines()
    assert len(text_lines) == 6
    for key_id, record in listed.items():
        (line,) = [line for line in text_lines if line.startswith(key_id)]
        assert record["type"] in line.split()
        assert ("revoked" in line) == (key_id == app["id"])


# -- against a running server ----------------------------------------------------------------


def test_org_create_keys_work_with_the_official_client(
    shared_cli: Cli, shared_server: ServeProcess
) -> None:
    org, partner = map(
        as_org,
        parallel(shared_cli, org_args("Client Org", "us1"), org_args("Client Partner", "eu1")),
    )
    client, api = official_api(shared_server.url, org)
    with client:
        created = api.create_hamr_org_connection(
            body=HamrOrgConnectionRequest(
                data=HamrOrgConnectionDataRequest(
                    attributes=HamrOrgConnectionAttributesRequest(
                        hamr_status=HamrOrgConnectionStatus.PASSIVE,
                        is_primary=False,
                        modified_by="ops@example.com",
                        target_org_datacenter=partner.datacenter,
                        target_org_name=partner.name,
                        target_org_uuid=partner.uuid,
                    ),
                    id=org.uuid,
                    type=HamrOrgConnectionType.HAMR_ORG_CONNECTIONS,
                )
            )
        )
        read = api.get_hamr_org_connection()
    assert read.to_dict() == created.to_dict()
    assert read.data.id == org.uuid
    assert read.data.attributes.hamr_status == HamrOrgConnectionStatus.PASSIVE
    assert read.data.attributes.is_primary is False
    assert read.data.attributes.target_org_uuid == partner.uuid
    assert read.data.attributes.modified_by == "ops@example.com"


def test_history_after_posts_through_a_server(shared_cli: Cli, shared_server: ServeProcess) -> None:
    org, partner = map(
        as_org, parallel(shared_cli, org_args("Primary", "us1"), org_args("Backup", "eu1"))
    )
    empty, token_result = parallel(
        shared_cli,
        ("history", "--org", org.uuid, "--json"),
        ("token", "create", "--org", org.uuid, "--json"),
    )
    assert ok_json(empty) == []
    token = ok_json(token_result)

    with local_http.client(base_url=shared_server.url, timeout=10) as http:
        bearer = {"Authorization": f"Bearer {token['key']}"}
        for status, headers in ((1, org.headers), (2, bearer), (4, org.headers)):
            body = connection_body(org, partner, hamr_status=status, modified_by=f"s{status}@x.io")
            response = http.post("/api/v2/hamr", json=body, headers=headers)
            assert response.status_code == 200, response.text
        final = http.get("/api/v2/hamr", headers=bearer).json()

    as_json, as_text, keys, partner_history = parallel(
        shared_cli,
        ("history", "--org", org.uuid, "--json"),
        ("history", "--org", org.uuid),
        ("key", "list", "--org", org.uuid, "--json"),
        ("history", "--org", partner.uuid, "--json"),
    )
    entries = ok_json(as_json)
    assert [e["after"]["hamr_status"] for e in entries] == [1, 2, 4]
    assert entries[0]["before"] is None
    assert [e["before"]["hamr_status"] for e in entries[1:]] == [1, 2]
    assert [e["modified_by"] for e in entries] == ["s1@x.io", "s2@x.io", "s4@x.io"]
    assert {e["org_uuid"] for e in entries} == {org.uuid}
    assert all(TIMESTAMP.match(e["recorded_at"]) for e in entries)
    assert [e["recorded_at"] for e in entries] == sorted(e["recorded_at"] for e in entries)
    assert entries[-1]["after"]["target_org_uuid"] == partner.uuid
    assert entries[-1]["after"]["modified_at"] == final["data"]["attributes"]["modified_at"]
    app_key_ids = {k["id"] for k in ok_json(keys) if k["type"] == "app"}
    assert entries[0]["key_id"] in app_key_ids
    assert entries[1]["key_id"] == token["id"]
    for secret in (org.api_key, org.app_key, token["key"]):
        assert secret not in as_json.stdout
        assert secret not in as_text.stdout

    lines = ok(as_text).strip().splitlines()
    assert len(lines) == 3
    assert "status - -> 1" in lines[0]
    assert "status 1 -> 2" in lines[1]
    assert "status 2 -> 4" in lines[2]
    assert all(partner.uuid in line and "(eu1)" in line for line in lines)
    assert token["id"] in lines[1]

    # One history per pair: the partner, linked by org's first POST, reads the same rows.
    assert ok_json(partner_history) == entries
    assert {e["connection_id"] for e in entries} == {entries[0]["connection_id"]}


# -- db, help, version -----------------------------------------------------------------------


def test_db_upgrade_creates_the_schema_and_is_idempotent(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "cli.db"
    assert not path.exists()
    first = ok(cli("db", "upgrade"))
    assert re.fullmatch(r"database schema at revision \S+\n", first)
    with sqlite3.connect(path) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"orgs", "keys", "connections", "history"} <= tables
    assert ok(cli("db", "upgrade")) == first


def test_help_and_version() -> None:
    help_result, version_result = parallel(run_cli, ("--help",), ("--version",))
    stdout = ok(help_result)
    for verb in ("serve", "config", "org", "key", "token", "history", "db"):
        assert re.search(rf"^\s+{verb}\b", stdout, re.MULTILINE), verb
    printed = ok(version_result).strip()
    assert len(printed.splitlines()) == 1
    assert printed == "hamr, version 0.2.0"
    # One version everywhere: the package's metadata, its source and the CLI's.
    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == hamr.__version__ == "0.2.0"
    # ...and the upgrade the README points at says from which version to which.
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert "operations.md#upgrading-from-010-to-020" in readme


def test_one_wording_of_how_soon_running_servers_see_a_revocation_or_an_unlink() -> None:
    """The true bound (docs/operations.md: a 0.1 s poll, a quarter of a second at worst), said
    the same in each verb's help and in the README."""
    revoke, unlink = parallel(run_cli, ("key", "revoke", "--help"), ("pair", "unlink", "--help"))
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    operations = (Path(__file__).parent.parent / "docs" / "operations.md").read_text()
    for text in (ok(revoke), ok(unlink), readme, operations):
        said = " ".join(text.split())
        assert "within a quarter of a second" in said or "a quarter of a second at worst" in said
        assert "within a second" not in said


# -- operator errors: status 2, one line, no traceback ---------------------------------------

# (case id, arguments, database: "db" for the prepared one or a URL, fragments of the message)
ERROR_CASES: list[tuple[str, tuple[str, ...], str, tuple[str, ...]]] = [
    ("key create, unknown org", ("key", "create", "--org", UNKNOWN, "--type", "api"), "db",
     (UNKNOWN,)),
    ("key list, unknown org", ("key", "list", "--org", UNKNOWN, "--json"), "db", (UNKNOWN,)),
    ("token create, unknown org", ("token", "create", "--org", UNKNOWN), "db", (UNKNOWN,)),
    ("history, unknown org", ("history", "--org", UNKNOWN), "db", (UNKNOWN,)),
    ("key revoke, unknown key id", ("key", "revoke", UNKNOWN), "db", (UNKNOWN,)),
    ("org create, bad datacenter", ("org", "create", "--name", "X", "--datacenter", "mars1"),
     "db", ("mars1",)),
    ("org create, bad --uuid",
     ("org", "create", "--name", "X", "--datacenter", "us1", "--uuid", "not-a-uuid"),
     "db", ("not-a-uuid", "UUID")),
    ("org create, duplicate --uuid",
     ("org", "create", "--name", "Again", "--datacenter", "eu1", "--uuid", DUPLICATE),
     "db", (PRODUCTION.uuid, "exists")),
    ("org list, unreachable database", ("org", "list"), UNREACHABLE, ("nonexistent-dir",)),
    ("db upgrade, unreachable database", ("db", "upgrade"), UNREACHABLE, ("nonexistent-dir",)),
    ("serve, unreachable database", ("serve", "--port", "0"), UNREACHABLE,
     ("nonexistent-dir",)),
    ("serve, malformed --rate-limit", ("serve", "--rate-limit", "hamr_get=lots"), "db",
     ("hamr_get=lots", "NAME=AMOUNT/SECONDS")),
    ("serve, unknown rate limit bucket", ("serve", "--rate-limit", "hamr_put=1/60"), "db",
     ("hamr_put", "hamr_get")),
    ("serve, unknown rate limit storage",
     ("serve", "--rate-limit-storage", "memcached://u:hunter2@x:1"), "db",
     ("memory://", "redis://", "u:***@x:1")),
    ("config, zero rate limit", ("config", "--rate-limit", "hamr_post=0/60"), "db",
     ("hamr_post=0/60",)),
    ("malformed URL ://", ("org", "list"), "://", ()),
    ("malformed URL, no scheme", ("key", "list", "--org", UNKNOWN), "not a url", ()),
    ("malformed URL, unknown dialect", ("org", "list"), "bogus://x", ("bogus",)),
    # A well-formed URL whose driver is not installed is an operator mistake as well.
    ("URL whose driver is not installed", ("org", "list"),
     "postgresql+psycopg2://u:secret@127.0.0.1:1/x", ()),
]  # fmt: skip


@pytest.fixture(scope="module")
def error_results(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, Result], OrgKeys, Callable[..., Result]]:
    """Every error case, run once side by side on a database holding one org."""
    url = sqlite_url(tmp_path_factory.mktemp("cli-errors") / "errors.db")

    def run(*args: str, database: str = url) -> Result:
        return run_cli(*args, database_url=url if database == "db" else database)

    existing = as_org(run(*org_args("Existing", "us1", "--uuid", PRODUCTION.uuid)))
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            case: pool.submit(run, *args, database=database)
            for case, args, database, _ in ERROR_CASES
        }
        results = {case: future.result() for case, future in futures.items()}
    return results, existing, run


@pytest.mark.parametrize(
    ("case", "fragments"),
    [(case, fragments) for case, _, _, fragments in ERROR_CASES],
    ids=[case for case, *_ in ERROR_CASES],
)
def test_operator_error(
    error_results: tuple[dict[str, Result], OrgKeys, Callable[..., Result]],
    case: str,
    fragments: tuple[str, ...],
) -> None:
    results, _, _ = error_results
    line = assert_operator_error(results[case], *fragments)
    assert "secret" not in line  # a database password is never echoed


def test_failed_commands_changed_nothing(
    error_results: tuple[dict[str, Result], OrgKeys, Callable[..., Result]],
) -> None:
    _, existing, run = error_results
    orgs, keys = parallel(
        run, ("org", "list", "--json"), ("key", "list", "--org", existing.uuid, "--json")
    )
    assert ok_json(orgs) == [{"uuid": PRODUCTION.uuid, "name": "Existing", "datacenter": "us1"}]
    listed = ok_json(keys)
    assert sorted(k["type"] for k in listed) == ["api", "app"]
    assert all(k["revoked_at"] is None for k in listed)


# -- every verb: bad input is one line and exit 2; reads never make a database ---------------

# The mistake a verb is given: the first of these whose option it takes, with a fragment of
# the line that must name it. A new verb gets one by taking any of these options.
VERB_MISTAKES: list[tuple[str, str, str]] = [
    ("--file", "{tmp}/bad.yaml", "line 3, column 1"),
    ("--url", "http://127.0.0.1:{port}", "nothing is listening at http://127.0.0.1:{port}"),
    ("--org", UNKNOWN, UNKNOWN),
    ("--uuid", "not-a-uuid", "not-a-uuid"),
    ("--from", "sqlite:///{tmp}/missing.db", "missing.db"),
    ("--rate-limit", "hamr_post=0/60", "hamr_post=0/60"),
    ("--database", "bogus://x", "bogus"),
]
# What each verb's other options are given, where it takes them; its arguments get UNKNOWN.
REQUIRED_VALUES = {
    "--org": UNKNOWN,
    "--name": "Any",
    "--datacenter": "us1",
    "--type": "api",
    "--reason": "drill",
    "--admin-token": "a-token-long-enough",
    "--to": "sqlite:///{tmp}/target.db",
}
# Verbs that make the database they need, and one that never opens it.
DATABASE_MAKERS = {("org", "create"), ("db", "upgrade"), ("serve",)}
NEVER_OPENS = {("config",)}


def every_verb(
    group: click.Group, words: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Each verb under `group` with its words, found as click finds them, so a verb added
    later is in every loop below; a group that runs without a verb (`hamr history`) is one."""
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            if command.invoke_without_command:
                yield (*words, name), command
            yield from every_verb(command, (*words, name))
        else:
            yield (*words, name), command


def flag(option: click.Parameter) -> str:
    return max(option.opts, key=len)


def usual_args(command: click.Command, tmp: Path, *leaving_out: str) -> list[str]:
    """Good values for the verb's arguments and for each option of REQUIRED_VALUES it takes
    (some it needs without click knowing: `hamr history` with no verb after it needs --org),
    except --datacenter where it is the alternative to --org (`hamr pair failover`)."""
    args: list[str] = []
    flags = {flag(p) for p in command.params if isinstance(p, click.Option)}
    alternatives = {"--datacenter"} if "--org" in flags else set()
    for param in command.params:
        if isinstance(param, click.Argument) and param.required:
            args.append(UNKNOWN)
        elif flag(param) in REQUIRED_VALUES and flag(param) not in {*leaving_out, *alternatives}:
            args += [flag(param), REQUIRED_VALUES[flag(param)].format(tmp=tmp)]
    return args


def takes_database(command: click.Command) -> bool:
    return any(flag(p) == "--database" for p in command.params if isinstance(p, click.Option))


def test_every_verb_given_bad_input_says_so_in_one_line_and_exits_2(tmp_path: Path) -> None:
    """In-process, through the root group as `hamr` runs them; test_operator_error and
    test_history_verify_in_an_empty_folder_fails_and_creates_nothing run real processes."""
    (tmp_path / "bad.yaml").write_text("- status: 503\n  times: [1\n")
    hamr_db = sqlite_url(tmp_path / "hamr.db")
    open_store(hamr_db).close()  # a hamr database, holding no org
    port = free_port()
    runs: dict[tuple[str, ...], tuple[list[str], str]] = {}
    used: set[str] = set()
    for words, command in every_verb(main):
        options = {flag(p) for p in command.params if isinstance(p, click.Option)}
        taken = [mistake for mistake in VERB_MISTAKES if mistake[0] in options]
        assert taken, f"give `hamr {' '.join(words)}` a mistake in VERB_MISTAKES"
        option, value, fragment = taken[0]
        used.add(option)
        args = [*words, *usual_args(command, tmp_path, option)]
        args += [option, value.format(tmp=tmp_path, port=port)]
        if option != "--database" and takes_database(command):
            args += ["--database", hamr_db]
        runs[words] = args, fragment.format(tmp=tmp_path, port=port)
    assert used == {option for option, _, _ in VERB_MISTAKES}  # the table has no dead row
    assert {("fault", "add"), ("key", "revoke"), ("history",), ("history", "verify")} <= set(runs)

    for words, (args, fragment) in runs.items():
        result = CliRunner().invoke(main, args)
        assert (result.exit_code, result.stdout) == (2, ""), (words, result.output)
        assert isinstance(result.exception, SystemExit), words  # none escaped the policy
        assert "Traceback" not in result.stderr
        [line] = result.stderr.splitlines()
        assert line.startswith("Error: "), (words, line)
        assert fragment in line, (words, line)


def verbs_needing_a_database() -> list[tuple[tuple[str, ...], click.Command]]:
    """Every verb that opens the database but cannot make anything of a new one."""
    return [
        (words, command)
        for words, command in every_verb(main)
        if takes_database(command) and words not in DATABASE_MAKERS | NEVER_OPENS
    ]


def hamr_here(*args: str) -> ClickResult:
    """`hamr ARGS` in-process, in the current folder, on the default database (./hamr.db)."""
    return CliRunner().invoke(main, list(args), env={"HAMR_DATABASE_URL": None})


def test_verbs_on_a_missing_database_name_it_say_how_to_make_one_and_create_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    verbs = verbs_needing_a_database()
    assert {
        ("history",),
        ("history", "verify"),
        ("org", "list"),
        ("key", "list"),
        ("pair", "show"),
    } <= {words for words, _ in verbs}
    for words, command in verbs:
        result = hamr_here(*words, *usual_args(command, tmp_path))
        assert (result.exit_code, result.stdout) == (2, ""), (words, result.output)
        assert result.stderr.splitlines() == [
            f"Error: there is no hamr database at {tmp_path / 'hamr.db'} (no such file); make "
            "one with `hamr db upgrade` or `hamr serve`, or point --database "
            "(HAMR_DATABASE_URL) at yours"
        ], words
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("kind", ["empty file", "another program's SQLite database"])
def test_verbs_on_a_database_hamr_did_not_make_refuse_and_leave_it_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.chdir(tmp_path)
    database = tmp_path / "hamr.db"
    database.touch()
    if kind != "empty file":
        with sqlite3.connect(database) as other:
            other.execute("CREATE TABLE notes (body TEXT)")
        other.close()
    before = database.read_bytes()
    for words, command in verbs_needing_a_database():
        result = hamr_here(*words, *usual_args(command, tmp_path))
        assert (result.exit_code, result.stdout) == (2, ""), (words, result.output)
        assert result.stderr.splitlines() == [
            f"Error: there is no hamr database in {database} (it has no hamr schema); make "
            "one with `hamr db upgrade` or `hamr serve`, or point --database "
            "(HAMR_DATABASE_URL) at yours"
        ], words
    assert database.read_bytes() == before
    assert list(tmp_path.iterdir()) == [database]  # no journal or WAL file left beside it


def test_a_verb_that_makes_a_database_makes_it_where_the_others_then_find_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    made = hamr_here("org", "create", "--name", "First", "--datacenter", "us1", "--json")
    assert made.exit_code == 0, made.output
    assert (tmp_path / "hamr.db").is_file()
    listed = hamr_here("org", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [o["name"] for o in json.loads(listed.stdout)] == ["First"]


def test_history_verify_in_an_empty_folder_fails_and_creates_nothing(tmp_path: Path) -> None:
    """The audit that used to pass on the wrong folder, run as an operator runs it."""
    environment = {k: v for k, v in os.environ.items() if k != "HAMR_DATABASE_URL"}
    result = run_cli("history", "verify", cwd=tmp_path, env=environment)
    assert_operator_error(result, str(tmp_path / "hamr.db"), "hamr db upgrade")
    assert list(tmp_path.iterdir()) == []


# -- serve --demo ----------------------------------------------------------------------------


def curl_commands(log: str) -> list[list[str]]:
    """Each printed curl command as its lines, continuation backslashes removed."""
    lines = log.splitlines()
    commands: list[list[str]] = []
    for index, line in enumerate(lines):
        if line.strip().startswith("curl "):
            command = [line.strip()]
            while command[-1].endswith("\\"):
                command[-1] = command[-1][:-1].strip()
                index += 1
                command.append(lines[index].strip())
            commands.append(command)
    return commands


def curl_url(command: list[str]) -> str:
    found = re.search(r'"(http[^"]+)"', command[0])
    assert found is not None, command
    return found.group(1)


def curl_headers(command: list[str]) -> dict[str, str]:
    found = [re.fullmatch(r'-H "([^:]+): (.*)"', line) for line in command]
    return {m.group(1): m.group(2) for m in found if m}


def demo_keys(log: str) -> tuple[list[str], list[str]]:
    api = re.findall(r"^\s*DD-API-KEY\s+(\S+)\s*$", log, re.MULTILINE)
    app = re.findall(r"^\s*DD-APPLICATION-KEY\s+(\S+)\s*$", log, re.MULTILINE)
    return api, app


def test_serve_demo_prints_keys_curl_and_python_that_work(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "demo.db")
    demo = ServeProcess(url, tmp_path / "demo.log", "--demo").start()
    try:
        log = demo.log()
        assert PRODUCTION.uuid in log
        assert BACKUP.uuid in log
        api_keys, app_keys = demo_keys(log)
        assert len(api_keys) == len(app_keys) == 2
        assert all(API_KEY.match(k) for k in api_keys)
        assert all(APP_KEY.match(k) for k in app_keys)
        backup_keys = {"DD-API-KEY": api_keys[1], "DD-APPLICATION-KEY": app_keys[1]}

        commands = curl_commands(log)
        (get_command,) = [c for c in commands if "-X POST" not in c[0]]
        *drill, link_command, rest_command = [c for c in commands if "-X POST" in c[0]]
        assert commands.index(get_command) == 0  # printed in the order to send them
        get_headers = curl_headers(get_command)
        assert get_headers == {"DD-API-KEY": api_keys[0], "DD-APPLICATION-KEY": app_keys[0]}

        def send(command: list[str], warned: bool = False) -> Any:
            """One printed POST, exactly as printed; X-Hamr-Warning only where said."""
            body = next(line for line in command if line.startswith("-d '"))[4:-1]
            posted = local_http.post(
                curl_url(command), content=body, headers=curl_headers(command), timeout=10
            )
            assert posted.status_code == 200, posted.text
            assert ("x-hamr-warning" in posted.headers) is warned, posted.headers
            return posted.json()

        def read() -> Any:
            """The printed GET, exactly as printed: Production Org's side of the pair."""
            seen = local_http.get(curl_url(get_command), headers=get_headers, timeout=10)
            assert seen.status_code == 200, seen.text
            return seen.json()

        def status_seen() -> tuple[int, bool]:
            attributes = read()["data"]["attributes"]
            return attributes["HamrStatus"], attributes["IsPrimary"]

        # The GET, exactly as printed: the pair linked the DDR way and left at rest.
        assert curl_url(get_command) == f"{demo.url}/api/v2/hamr"
        data = read()["data"]
        assert data["id"] == PRODUCTION.uuid
        assert data["attributes"]["target_org_uuid"] == BACKUP.uuid
        assert (data["attributes"]["HamrStatus"], data["attributes"]["IsPrimary"]) == (2, True)
        backup_side = local_http.get(curl_url(get_command), headers=backup_keys, timeout=10).json()
        assert backup_side["data"]["attributes"]["HamrStatus"] == 2
        assert backup_side["data"]["attributes"]["is_primary"] is False

        # The drill, exactly as printed, from the backup org: each step a lifecycle move that
        # both sides follow.
        assert len(drill) == 4
        for command, status in zip(drill, (3, 4, 5, 2), strict=True):
            assert curl_headers(command)["DD-API-KEY"] == api_keys[1]
            assert send(command)["data"]["id"] == BACKUP.uuid
            assert status_seen() == (status, True)

        # The DDR guide's linking POSTs, as printed: the primary's short body, which moves the
        # linked pair back to ONBOARDING (the warning the text announces), then at rest.
        body = next(line for line in link_command if line.startswith("-d '"))[4:-1]
        assert json.loads(body)["data"]["attributes"] == {
            "TargetOrgUuid": BACKUP.uuid,
            "HamrStatus": 1,
            "ModifiedBy": "you@example.com",
            "IsPrimary": True,
        }
        assert "stored with an X-Hamr-Warning" in log
        linked = send(link_command, warned=True)
        assert linked["data"]["attributes"]["target_org_name"] == BACKUP.name
        assert status_seen() == (1, True)
        send(rest_command)
        assert status_seen() == (2, True)
        drilled = read()

        # The web page, at the address printed.
        page = re.search(r"In a browser: (\S+/ui),", log)
        assert page is not None
        sign_in = local_http.get(page.group(1), follow_redirects=True, timeout=10)
        assert sign_in.status_code == 200
        assert "<h1>Sign in</h1>" in sign_in.text

        # The Python snippet, exactly as printed.
        lines = log.splitlines()
        first = next(i for i, line in enumerate(lines) if "from datadog_api_client import" in line)
        last = next(i for i, line in enumerate(lines) if "get_hamr_org_connection())" in line)
        snippet = textwrap.dedent("\n".join(lines[first : last + 1]))
        assert f'Configuration(host="{demo.url}")' in snippet
        ran = subprocess.run(
            [PYTHON, "-W", "ignore", "-c", snippet],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert ran.returncode == 0, ran.stderr
        assert PRODUCTION.uuid in ran.stdout
        assert BACKUP.uuid in ran.stdout
    finally:
        demo.stop()

    # A second start makes no keys, leaves the stored data alone and says where the pair
    # stands: as the drill's last POST left it (not as the seed did, by hamr-demo).
    again = ServeProcess(url, tmp_path / "again.log", "--demo").start()
    try:
        printed = again.log()
        assert demo_keys(printed) == ([], [])
        assert "Their pair is PASSIVE (2) now, Production Org primary;" in printed
        assert "by you@example.com." in printed
        assert f"hamr key create --org {BACKUP.uuid} --type app" in printed
        response = local_http.get(
            f"{again.url}/api/v2/hamr",
            headers={"DD-API-KEY": api_keys[0], "DD-APPLICATION-KEY": app_keys[0]},
            timeout=10,
        )
        assert response.status_code == 200  # the first start's keys still work
        assert response.json() == drilled  # the last POST survived; not re-seeded
    finally:
        again.stop()
    store = open_store(url)
    try:
        service = HamrService(store.unit_of_work, store.view, frozenset(DEFAULT_DATACENTERS))
        # One history for the pair: the seed's two writes, the replayed two, the drill's four.
        assert len(service.history(PRODUCTION.uuid)) == 8
        assert service.history(BACKUP.uuid) == service.history(PRODUCTION.uuid)
        assert len(service.list_keys(PRODUCTION.uuid)) == 2  # the first start's, only
    finally:
        store.close()


def test_config_shows_each_settings_value_and_source_with_secrets_redacted() -> None:
    environment = {
        **os.environ,
        "HAMR_PORT": "9090",
        "HAMR_RATE_LIMITS": "hamr_get=50/10",
        "HAMR_METRICS": "off",
        "HAMR_RATE_LIMIT_STORAGE": "redis://:hunter2@redis.internal:6379/0",
        "HAMR_SESSION_SECRET": "the-web-pages-session-secret",
    }
    shown = run_cli(
        "config",
        "--json",
        "--database",
        "postgresql://hamr:s3cret@db.internal/hamr",
        "--rate-limit",
        "hamr_post=5/60",
        env=environment,
    )
    settings = json.loads(ok(shown))
    assert settings["database_url"] == {
        "value": "postgresql://hamr:***@db.internal/hamr",
        "source": "flag",
    }
    assert settings["port"] == {"value": "9090", "source": "env"}
    assert settings["host"] == {"value": "127.0.0.1", "source": "default"}
    assert settings["metrics"] == {"value": "off", "source": "env"}
    # A flag overrides the environment's limits bucket by bucket.
    assert settings["rate_limits"] == {
        "value": "hamr_get=50/10,hamr_post=5/60,hamr_unauthenticated=100/60",
        "source": "flag",
    }
    assert settings["rate_limit_storage"] == {
        "value": "redis://:***@redis.internal:6379/0",
        "source": "env",
    }
    assert settings["session_secret"] == {"value": "***", "source": "env"}
    assert "s3cret" not in shown.stdout
    assert "hunter2" not in shown.stdout
    assert "the-web-pages-session-secret" not in shown.stdout

    text = ok(run_cli("config", env={**os.environ, "HAMR_LOG_FORMAT": "text"}))
    assert re.search(r"^log_format\s+text\s+\(env\)$", text, re.MULTILINE), text
    assert re.search(
        r"^rate_limits\s+hamr_get=1000/60,hamr_post=100/60,hamr_unauthenticated=100/60"
        r"\s+\(default\)$",
        text,
        re.MULTILINE,
    ), text


# -- serve: where it cannot listen -----------------------------------------------------------

NOT_HERE = "203.0.113.1"  # TEST-NET-3: for documentation, no machine has it


def serve_on(tmp_path: Path, *args: str) -> Result:
    return run_cli("serve", *args, database_url=sqlite_url(tmp_path / "x.db"))


def unprivileged_port_start() -> int:
    path = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")
    return int(path.read_text()) if path.exists() else 1024


def test_serve_on_a_port_in_use_names_it_and_the_flag_that_picks_another(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve_on(tmp_path, "--port", str(port))
    line = assert_operator_error(
        result, f"127.0.0.1:{port}", "address already in use", f"port {port}", "--port"
    )
    assert "Errno" not in line
    assert not (tmp_path / "x.db").exists()  # refused before the database was opened


def test_a_site_on_a_port_in_use_names_the_site_flag_not_port(tmp_path: Path) -> None:
    """The taken port is a site's: the fix is in --site, which --port would not change."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = serve_on(tmp_path, "--port", "0", "--site", f"us1=127.0.0.1:{port}")
    line = assert_operator_error(
        result, f"127.0.0.1:{port}", "address already in use", "--site us1=HOST:PORT"
    )
    assert "--port" not in line
    assert not (tmp_path / "x.db").exists()


def test_serve_on_an_address_this_machine_lacks_names_it_and_the_flag(tmp_path: Path) -> None:
    with socket.socket() as probe:
        try:
            probe.bind((NOT_HERE, 0))
        except OSError:
            pass
        else:
            pytest.skip(f"this machine has {NOT_HERE}")
    result = serve_on(tmp_path, "--host", NOT_HERE, "--port", "8080")
    assert_operator_error(result, f"{NOT_HERE}:8080", "address not available", "--host")


def test_serve_on_a_privileged_port_as_a_user_says_to_pick_another(tmp_path: Path) -> None:
    """As a user would; root (as in CI) without CAP_NET_BIND_SERVICE is refused the same. The
    port is 80, or the highest still privileged where the kernel lets anyone take 80."""
    port = min(80, unprivileged_port_start() - 1)
    assert port > 0, "every port is open to anyone here: no privileged port to be refused"
    as_user = ["setpriv", "--bounding-set", "-net_bind_service"] if os.geteuid() == 0 else []
    database = sqlite_url(tmp_path / "x.db")
    result = subprocess.run(
        [*as_user, PYTHON, "-m", "hamr", "serve", "--port", str(port), "--database", database],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert_operator_error(result, f"127.0.0.1:{port}", "permission denied", "--port")


def test_a_privileged_port_refused_says_to_pick_another(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same as the test above, in process: the message whatever refuses the port."""

    def refuse(_sock: socket.socket, _address: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(socket.socket, "bind", refuse)
    with pytest.raises(CannotListen) as refused:
        listening_sockets("127.0.0.1", 80)
    assert str(refused.value) == (
        "cannot listen on 127.0.0.1:80: permission denied, ports below 1024 need root or "
        "CAP_NET_BIND_SERVICE; pick one from 1024 up with --port (or HAMR_PORT)"
    )
