"""`GET|PUT /_hamr/state`: everything stored as one document, and that document put back
(identities, history and all) in place of whatever is stored; a document that is not one is a
400 naming where, and changes nothing. On SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import json
import os
import shlex
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from datadog_api_client.v2.model.hamr_org_connection_status import HamrOrgConnectionStatus

from hamr.emulator.admin_auth import ADMIN_HEADER
from hamr.emulator.client import EmulatorAdmin
from hamr.emulator.routes import STATE_MAX_BODY_BYTES
from hamr.testing import TestOrg
from hamr.usecases.demo import BACKUP, PRODUCTION
from tests import docs, local_http
from tests.api.test_emulator_routes import api_as, the_error
from tests.conftest import ADMIN, ADMIN_TOKEN, EmulatorServer, ServeProcess, run_cli, sqlite_url

Document = dict[str, Any]
Mutation = Callable[[Document], Any]
JSON = "application/json"


@pytest.fixture
def http(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with local_http.client(base_url=emulator.url, timeout=30) as client:
        yield client


def put(http: httpx.Client, document: Any) -> httpx.Response:
    return http.put("/_hamr/state", json=document, headers=ADMIN)


def write(http: httpx.Client, org: TestOrg, partner: TestOrg, status: int) -> httpx.Response:
    body = {
        "data": {
            "type": "hamr_org_connections",
            "id": org.uuid,
            "attributes": {
                "hamr_status": status,
                "is_primary": True,
                "modified_by": "state@example.com",
                "target_org_uuid": partner.uuid,
            },
        }
    }
    return http.post("/api/v2/hamr", json=body, headers=org.headers)


def test_a_put_of_what_get_gave_restores_it_byte_for_byte_and_its_keys_work_again(
    emulator: EmulatorServer, http: httpx.Client
) -> None:
    orgs = emulator.reset()
    production, backup = orgs[PRODUCTION.name], orgs[BACKUP.name]
    for status in (3, 4):  # history beyond the demo's own
        assert write(http, production, backup, status).status_code == 200
    taken = emulator.admin.state()
    attributes = json.loads(taken)["data"]["attributes"]
    assert json.loads(taken)["data"]["type"] == "hamr_emulator_state"
    assert attributes["format"] == 1
    assert [org["uuid"] for org in attributes["orgs"]] == sorted([PRODUCTION.uuid, BACKUP.uuid])
    assert len(attributes["history"]) == 4
    assert all(row["secret_hash"] for row in attributes["keys"])
    for secret in (production.api_key, production.app_key, backup.api_key, backup.app_key):
        assert secret not in taken.decode()  # hamr holds hashes only, and so does its state
    history_before = http.get("/api/v2/hamr/history", headers=production.headers).json()

    emulator.reset("empty")
    assert json.loads(emulator.admin.state())["data"]["attributes"] == {
        "format": 1,
        "orgs": [],
        "keys": [],
        "connections": [],
        "connection_members": [],
        "history": [],
    }
    assert http.get("/api/v2/hamr", headers=production.headers).status_code == 403
    answer = put(http, json.loads(taken))

    assert answer.status_code == 200, answer.text
    assert answer.content == taken
    assert emulator.admin.state() == taken
    read = api_as(emulator, production).get_hamr_org_connection()
    assert read.data.attributes.hamr_status == HamrOrgConnectionStatus.ACTIVE
    assert read.data.attributes.target_org_uuid == BACKUP.uuid
    assert http.get("/api/v2/hamr/history", headers=production.headers).json() == history_before
    # The next history row gets an id past the loaded ones, and chains on from them.
    assert write(http, production, backup, 5).status_code == 200
    ids = [row["id"] for row in json.loads(emulator.admin.state())["data"]["attributes"]["history"]]
    assert ids[:-1] == [row["id"] for row in attributes["history"]]
    assert ids[-1] > ids[-2]
    verified = run_cli("history", "verify", database_url=emulator.database_url)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_put_takes_back_what_was_written_since_from_what_the_server_remembers_too(
    emulator: EmulatorServer,
    http: httpx.Client,
) -> None:
    orgs = emulator.reset()
    production, backup = orgs[PRODUCTION.name], orgs[BACKUP.name]
    taken = emulator.admin.state()
    assert write(http, production, backup, 3).status_code == 200
    read = http.get("/api/v2/hamr", headers=backup.headers)  # now in the server's memory
    assert read.json()["data"]["attributes"]["hamr_status"] == 3

    assert put(http, json.loads(taken)).status_code == 200

    read = http.get("/api/v2/hamr", headers=backup.headers)
    assert read.json()["data"]["attributes"]["hamr_status"] == 2


def test_the_state_may_exceed_the_body_limit_of_a_connection_but_not_64_mib(
    emulator: EmulatorServer,
    http: httpx.Client,
) -> None:
    emulator.reset("empty")
    document = json.loads(emulator.admin.state())
    document["data"]["attributes"]["orgs"] = [
        {
            "uuid": str(uuid.UUID(int=n)),
            "name": f"Org number {n} of many, for a state past 64 KiB",
            "datacenter": "us1",
            "created_at_us": 1_700_000_000_000_000 + n,
        }
        for n in range(1000)
    ]
    answer = put(http, document)
    assert answer.status_code == 200, answer.text
    assert len(answer.content) > 65536
    assert answer.json() == document

    chunk = b" " * 2**20  # streamed, so that the server reads it to its limit and answers
    chunks = [chunk] * (STATE_MAX_BODY_BYTES // len(chunk)) + [b" "]
    too_large = http.put(
        "/_hamr/state", content=iter(chunks), headers={**ADMIN, "Content-Type": JSON}
    )

    assert the_error(too_large, 413)["status"] == "413"
    assert emulator.admin.state() == answer.content


def at(document: Document) -> Document:
    """The state in a document: its attributes."""
    return document["data"]["attributes"]  # type: ignore[no-any-return]


def set_column(name: str, index: int, column: str, value: Any) -> Mutation:
    return lambda d: at(d)[name][index].__setitem__(column, value)


def repeat_secret(document: Document) -> None:
    rows = at(document)["keys"]
    rows[1]["secret_hash"] = rows[0]["secret_hash"]


ELSEWHERE = "00000000-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("mutate", "pointers", "says"),
    [
        (lambda d: at(d).__setitem__("format", 2), ["/format"], "must be 1"),
        (lambda d: at(d).pop("history"), ["/history"], "history is missing"),
        (
            lambda d: at(d).__setitem__("idempotency_keys", []),
            ["/idempotency_keys"],
            "not part of hamr's state",
        ),
        (set_column("orgs", 0, "color", "red"), ["/orgs/0/color"], "not a column of orgs"),
        (lambda d: at(d)["orgs"][0].pop("name"), ["/orgs/0/name"], "name is missing"),
        (set_column("orgs", 0, "uuid", 7), ["/orgs/0/uuid"], "must be a string"),
        (set_column("orgs", 1, "datacenter", "x" * 33), ["/orgs/1/datacenter"], "at most 32"),
        (set_column("orgs", 0, "created_at_us", "1"), ["/orgs/0/created_at_us"], "an integer"),
        (set_column("keys", 0, "org_uuid", ELSEWHERE), ["/keys/0/org_uuid"], "any row of orgs"),
        (set_column("keys", 0, "kind", "password"), ["/keys/0/kind"], '"api", "app", "token"'),
        (set_column("keys", 2, "secret_hash", None), ["/keys/2/secret_hash"], "not be null"),
        (repeat_secret, ["/keys/1/secret_hash"], "repeats row 0's"),
        (set_column("connections", 0, "linked", 1), ["/connections/0/linked"], "true or false"),
        (set_column("connections", 0, "hamr_status", 9), ["/connections/0/hamr_status"], "one of"),
        (
            set_column("connection_members", 0, "connection_id", ELSEWHERE),
            ["/connection_members/0/connection_id"],
            "any row of connections",
        ),
        (set_column("history", 0, "after", [2]), ["/history/0/after"], "an object or null"),
        (
            lambda d: at(d)["history"].append(copy.deepcopy(at(d)["history"][0])),
            ["/history/2/id"],
            "repeats row 0's",
        ),
        (  # every problem at once, a parent's not repeated in its children
            lambda d: (at(d)["orgs"][0].__setitem__("uuid", 7), at(d)["keys"].__setitem__(0, [])),
            ["/orgs/0/uuid", "/keys/0"],
            "",
        ),
    ],
)
def test_a_bad_state_is_a_400_naming_where_and_changes_nothing(
    emulator: EmulatorServer, http: httpx.Client, mutate: Mutation, pointers: list[str], says: str
) -> None:
    emulator.reset()
    before = emulator.admin.state()
    document = json.loads(before)
    mutate(document)

    answer = put(http, document)

    assert answer.status_code == 400, answer.text
    errors = answer.json()["errors"]
    assert [e["source"]["pointer"] for e in errors] == [f"/data/attributes{p}" for p in pointers]
    assert says in errors[0]["detail"]
    assert emulator.admin.state() == before


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (b"[]", ""),
        (b"{not json", ""),
        (b'{"data": {"type": "hamr_emulator_state", "id": "state"}}', "/data"),
        (b'{"data": {"type": "hamr_state", "id": "state", "attributes": {}}}', "/data/type"),
        (
            b'{"data": {"type": "hamr_emulator_state", "id": "state", "attributes": []}}',
            "/data/attributes",
        ),
    ],
)
def test_a_body_that_is_not_a_state_document_is_a_400_and_changes_nothing(
    emulator: EmulatorServer, http: httpx.Client, body: bytes, pointer: str
) -> None:
    emulator.reset()
    before = emulator.admin.state()
    answer = http.put("/_hamr/state", content=body, headers={**ADMIN, "Content-Type": JSON})
    assert the_error(answer, 400)["source"] == {"pointer": pointer}
    assert emulator.admin.state() == before


def test_the_state_needs_the_admin_token_and_exists_only_on_an_emulator(
    emulator: EmulatorServer, http: httpx.Client, server: ServeProcess
) -> None:
    emulator.reset()
    before = emulator.admin.state()
    for method in ("GET", "PUT"):
        answer = http.request(method, "/_hamr/state", json=json.loads(before))
        assert the_error(answer, 403)["source"] == {"header": ADMIN_HEADER}
        plain = local_http.request(method, server.url + "/_hamr/state", headers=ADMIN, timeout=10)
        assert the_error(plain, 404)["status"] == "404"
    assert emulator.admin.state() == before


def test_the_documented_save_and_restore_run_as_printed(
    http: httpx.Client, emulator: EmulatorServer, tmp_path: Path
) -> None:
    demo = emulator.reset()
    assert write(http, demo[PRODUCTION.name], demo[BACKUP.name], 2).status_code == 200
    before = emulator.admin.state()
    ran = docs.run_block(
        "docs/emulator.md",
        "Saving and restoring the state",
        0,
        url=emulator.url,
        env={"HAMR_ADMIN_TOKEN": ADMIN_TOKEN},
        cwd=tmp_path,
        text=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "state.json").read_bytes() == before
    assert ran.stdout == before  # the PUT answers what GET now gives
    assert emulator.admin.state() == before


def test_a_state_file_given_at_start_is_what_the_server_holds(
    emulator: EmulatorServer, http: httpx.Client, tmp_path: Path
) -> None:
    """docs/emulator.md's start command, on a database of its own that held something else."""
    demo = emulator.reset()
    primary, secondary = demo[PRODUCTION.name], demo[BACKUP.name]
    assert write(http, primary, secondary, 2).status_code == 200
    (tmp_path / "state.json").write_bytes(emulator.admin.state())
    (tmp_path / "faults.yaml").write_text("- method: POST\n  status: 503\n", encoding="utf-8")
    database = sqlite_url(tmp_path / "other.db")
    assert (
        run_cli(
            "org", "create", "--name", "Stale", "--datacenter", "us1", database_url=database
        ).returncode
        == 0
    )
    serve = docs.block("docs/emulator.md", "Scenarios from files", 0)
    command = shlex.split(serve.replace("\\\n", " "))
    assert command[:2] == ["hamr", "serve"]
    flags = [f for f in command[2:] if f not in ("--admin-token", '"$HAMR_ADMIN_TOKEN"')]
    flags = [flag for flag in flags if not flag.startswith("$")]
    at = flags.index("--database")
    del flags[at : at + 2]
    running = ServeProcess(
        database,
        tmp_path / "server.log",
        *flags,
        "--admin-token",
        ADMIN_TOKEN,
        env={**os.environ},
        cwd=tmp_path,
    ).start()
    try:
        read = local_http.get(f"{running.url}/api/v2/hamr", headers=secondary.headers)
        assert read.status_code == 200, read.text
        assert read.json()["data"]["attributes"]["target_org_uuid"] == primary.uuid
        with EmulatorAdmin(running.url, ADMIN_TOKEN) as admin:
            orgs = json.loads(admin.state())
        assert "Stale" not in {o["name"] for o in orgs["data"]["attributes"]["orgs"]}
        assert local_http.post(f"{running.url}/api/v2/hamr", json={}).status_code == 503
    finally:
        running.stop()


def test_a_bad_state_file_stops_the_start_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"data": {"type": "elsewhere"}}', encoding="utf-8")
    done = run_cli(
        "serve",
        "--emulator",
        "--state",
        str(tmp_path / "state.json"),
        database_url=sqlite_url(tmp_path / "hamr.db"),
    )
    assert done.returncode == 2
    line = done.stderr.strip().splitlines()[-1]  # after the migrations' log lines
    assert line.startswith("Error: the state file ")
    assert "Traceback" not in done.stderr
    assert "state.json" in line
    assert "/data" in line
