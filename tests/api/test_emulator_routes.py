"""`hamr serve --emulator`: the admin API under /_hamr/ (token, reset, clock) on a database of
its own (a reset deletes everything), on SQLite and PostgreSQL; without the flag, a 404."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from datadog_api_client import ApiClient
from datadog_api_client.exceptions import ForbiddenException
from datadog_api_client.v2.api.high_availability_multi_region_api import (
    HighAvailabilityMultiRegionApi,
)
from datadog_api_client.v2.model.hamr_org_connection_status import HamrOrgConnectionStatus

from hamr.bootstrap import create_app
from hamr.emulator.admin_auth import ADMIN_HEADER
from hamr.settings import Settings, SettingsError
from hamr.store.sql import open_store
from hamr.testing import TestOrg, official_configuration
from hamr.usecases.demo import BACKUP, PRODUCTION
from tests import docs, local_http
from tests.conftest import ADMIN, ADMIN_TOKEN, EmulatorServer, ServeProcess, run_cli, sqlite_url


@pytest.fixture
def http(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with local_http.client(base_url=emulator.url, timeout=10) as client:
        yield client


def api_as(emulator: ServeProcess, org: TestOrg) -> HighAvailabilityMultiRegionApi:
    return HighAvailabilityMultiRegionApi(ApiClient(official_configuration(emulator.url, org)))


def seconds(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def the_error(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    (error,) = answer.json()["errors"]
    return error  # type: ignore[no-any-return]


def test_without_the_flag_every_admin_path_is_a_404(server: ServeProcess) -> None:
    for method, path in (("POST", "/_hamr/reset"), ("GET", "/_hamr/clock")):
        answer = local_http.request(method, server.url + path, headers=ADMIN, timeout=10)
        assert the_error(answer, 404)["status"] == "404"


def test_the_admin_api_needs_its_token_and_a_refusal_changes_nothing(
    emulator: EmulatorServer, http: httpx.Client
) -> None:
    orgs = emulator.reset()
    for sent, says in (
        ({}, f"needs the {ADMIN_HEADER} header"),
        (
            {ADMIN_HEADER: ADMIN_TOKEN + "x"},
            "is not this emulator's admin token",
        ),
    ):
        for method, path in (("POST", "/_hamr/reset"), ("GET", "/_hamr/clock")):
            answer = http.request(method, path, json={"seed": "empty"}, headers=sent)
            error = the_error(answer, 403)
            assert error["source"] == {"header": ADMIN_HEADER}
            assert says in error["detail"]
            assert ADMIN_TOKEN not in answer.text
    production = orgs[PRODUCTION.name]
    assert http.get("/api/v2/hamr", headers=production.headers).status_code == 200


def test_reset_demo_gives_the_linked_demo_pair_with_fresh_keys_for_the_official_client(
    emulator: EmulatorServer, http: httpx.Client
) -> None:
    first = emulator.reset()
    second = emulator.reset()

    assert set(second) == {PRODUCTION.name, BACKUP.name}
    production, backup = second[PRODUCTION.name], second[BACKUP.name]
    assert (production.uuid, production.datacenter) == (PRODUCTION.uuid, "eu1")
    assert (backup.uuid, backup.datacenter) == (BACKUP.uuid, "us1")
    read = api_as(emulator, backup).get_hamr_org_connection()
    assert read.data.attributes.hamr_status == HamrOrgConnectionStatus(2)
    assert read.data.attributes.target_org_uuid == PRODUCTION.uuid
    with pytest.raises(ForbiddenException):  # the first reset's keys went with it
        api_as(emulator, first[PRODUCTION.name]).get_hamr_org_connection()
    history = http.get("/api/v2/hamr/history", headers=production.headers).json()
    assert [row["attributes"]["after"]["hamr_status"] for row in history["data"]] == [2, 1]


def test_reset_empty_deletes_every_org_key_connection_and_history_row(
    emulator: EmulatorServer, http: httpx.Client
) -> None:
    orgs = emulator.reset()
    production = orgs[PRODUCTION.name]
    assert http.get("/api/v2/hamr", headers=production.headers).status_code == 200

    assert emulator.reset("empty") == {}

    refused = http.get("/api/v2/hamr", headers=production.headers)
    assert refused.status_code == 403  # its keys are gone, not only its connection
    store = open_store(emulator.database_url)
    try:
        with store.unit_of_work() as uow:
            assert uow.repository.list_orgs() == []
            assert uow.repository.list_history(PRODUCTION.uuid, None) == []
    finally:
        store.close()
    listed = run_cli("org", "list", "--json", database_url=emulator.database_url)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "[]"


def test_an_empty_body_resets_to_empty_and_a_bad_seed_is_a_400_that_changes_nothing(
    emulator: EmulatorServer, http: httpx.Client
) -> None:
    orgs = emulator.reset()
    for body, pointer in (
        ({"seed": "full"}, "/seed"),
        ({"seed": 1}, "/seed"),
        ({"seeds": "demo"}, "/seeds"),
        ([], ""),
    ):
        answer = http.post("/_hamr/reset", json=body, headers=ADMIN)
        assert the_error(answer, 400)["source"] == {"pointer": pointer}, body
    assert http.get("/api/v2/hamr", headers=orgs[BACKUP.name].headers).status_code == 200

    answer = http.post("/_hamr/reset", headers=ADMIN)

    assert answer.status_code == 200, answer.text
    assert answer.json()["data"]["attributes"] == {"seed": "empty", "orgs": []}


def test_the_clock_moves_when_told_and_modified_at_follows_it(
    emulator: EmulatorServer, http: httpx.Client
) -> None:
    orgs = emulator.reset()
    real = emulator.admin.clock(real=True)
    assert real["real"] is True
    assert real["offset_seconds"] == 0
    assert abs(seconds(real["now"]) - time.time()) < 5

    ahead = emulator.admin.clock(advance_seconds=86_400)
    assert ahead["real"] is False
    assert ahead["offset_seconds"] == pytest.approx(86_400, abs=1)
    assert seconds(ahead["now"]) - time.time() == pytest.approx(86_400, abs=5)

    production, backup = orgs[PRODUCTION.name], orgs[BACKUP.name]
    body = {
        "data": {
            "type": "hamr_org_connections",
            "id": production.uuid,
            "attributes": {
                "hamr_status": 2,
                "is_primary": True,
                "modified_by": "t",
                "target_org_uuid": backup.uuid,
            },
        }
    }
    written = http.post("/api/v2/hamr", json=body, headers=production.headers)
    assert written.status_code == 200, written.text
    modified = written.json()["data"]["attributes"]["modified_at"]
    assert seconds(modified) - time.time() == pytest.approx(86_400, abs=5)

    put = emulator.admin.clock(set="2030-01-02T03:04:05Z")
    assert seconds(put["now"]) == pytest.approx(
        datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp(), abs=5
    )
    assert emulator.admin.clock()["now"] >= put["now"]  # it keeps running from there
    back = emulator.admin.clock(real=True)
    assert back["real"] is True
    assert abs(seconds(back["now"]) - time.time()) < 5


def test_a_pair_left_in_failover_turns_stuck_as_the_clock_advances(
    emulator: EmulatorServer, http: httpx.Client
) -> None:
    orgs = emulator.reset()
    emulator.admin.clock(real=True)
    backup = orgs[BACKUP.name].headers
    held = http.post(
        "/api/v2/hamr/pair/failover", json={"reason": "drill", "hold": True}, headers=backup
    )
    assert held.status_code == 200, held.text
    assert held.json()["data"]["attributes"]["health"] == "linked"

    emulator.admin.clock(advance_seconds=16 * 60)  # past the default --stuck-after of 15 minutes

    pair = http.get("/api/v2/hamr/pair", headers=backup).json()["data"]["attributes"]
    assert (pair["status_name"], pair["health"]) == ("FAILOVER", "stuck")
    emulator.admin.clock(real=True)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"advance_seconds": "10"}, "/advance_seconds"),
        ({"advance_seconds": True}, "/advance_seconds"),
        ({"set": "yesterday"}, "/set"),
        ({"set": "2030-01-02T03:04:05"}, "/set"),  # no zone
        ({"real": False}, "/real"),
        ({"advance_seconds": 1, "real": True}, ""),
        ({}, ""),
        ({"freeze": True}, "/freeze"),
    ],
)
def test_a_bad_clock_request_is_a_400_naming_the_field_and_moves_nothing(
    emulator: EmulatorServer, http: httpx.Client, body: dict[str, Any], pointer: str
) -> None:
    before = emulator.admin.clock(real=True)
    answer = http.post("/_hamr/clock", json=body, headers=ADMIN)
    error = the_error(answer, 400)
    assert error["source"] == {"pointer": pointer}
    assert error["detail"]
    assert emulator.admin.clock()["offset_seconds"] == before["offset_seconds"] == 0


def test_the_clock_refuses_to_move_backwards_but_goes_back_to_real_time(
    emulator: EmulatorServer, http: httpx.Client
) -> None:
    """A clock moved back gave a pair a status_since before its modified_at: a negative
    advance, or a time before the clock's own, is a 400 at the field and moves nothing;
    `{"real": true}` is the one way back."""
    emulator.admin.clock(real=True)
    ahead = emulator.admin.clock(advance_seconds=3600)
    moves = (
        ({"advance_seconds": -3600}, "/advance_seconds"),
        ({"advance_seconds": -0.5}, "/advance_seconds"),
        ({"set": datetime.now(UTC).isoformat()}, "/set"),  # the real time: an hour back
    )
    for body, pointer in moves:
        error = the_error(http.post("/_hamr/clock", json=body, headers=ADMIN), 400)
        assert error["source"] == {"pointer": pointer}
        assert "only moves forward" in error["detail"], error["detail"]
        assert '{"real": true}' in error["detail"]
        after = emulator.admin.clock()
        assert after["offset_seconds"] == pytest.approx(ahead["offset_seconds"], abs=1)
    assert emulator.admin.clock(advance_seconds=0)["now"] >= ahead["now"]
    assert emulator.admin.clock(set="2099-01-01T00:00:00Z")["now"] >= "2099-01-01T00:00:00"
    back = emulator.admin.clock(real=True)
    assert back["real"] is True
    assert abs(seconds(back["now"]) - time.time()) < 5


def test_a_generated_token_is_printed_at_start_and_never_shown_by_config(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    url = sqlite_url(tmp_path_factory.mktemp("generated") / "emulator.db")
    log = tmp_path_factory.mktemp("generated-log") / "server.log"
    running = ServeProcess(url, log, "--emulator").start()
    try:
        (line,) = [x for x in running.log().splitlines() if ADMIN_HEADER in x]
        token = line.rsplit(" ", 1)[1]
        assert len(token) >= 16
        answer = local_http.get(running.url + "/_hamr/clock", headers={ADMIN_HEADER: token})
        assert answer.status_code == 200, answer.text
    finally:
        running.stop()
    shown = run_cli("config", "--emulator", "--admin-token", ADMIN_TOKEN, "--json")
    assert shown.returncode == 0, shown.stderr
    assert ADMIN_TOKEN not in shown.stdout
    short = run_cli("serve", "--emulator", "--admin-token", "short")
    assert short.returncode != 0
    assert "admin token must be at least 16 characters long" in short.stderr


def test_the_documented_admin_calls_run_as_printed(
    emulator: EmulatorServer, http: httpx.Client
) -> None:
    ran = docs.run_block(
        "docs/emulator.md",
        "Reset and clock",
        0,
        url=emulator.url,
        env={"HAMR_ADMIN_TOKEN": ADMIN_TOKEN},
    )
    assert ran.returncode == 0, ran.stderr
    # curl prints the documents back to back
    answers = [document["data"]["attributes"] for document in docs.documents(ran.stdout)]
    assert [org["name"] for org in answers[0]["orgs"]] == [PRODUCTION.name, BACKUP.name]
    assert answers[1]["offset_seconds"] == pytest.approx(960, abs=1)
    assert answers[2]["offset_seconds"] == pytest.approx(960, abs=1)
    assert answers[3]["real"] is True
    assert answers[4] == {"seed": "empty", "orgs": []}


def test_an_idempotency_key_expires_when_the_clock_passes_24_hours(
    emulator: EmulatorServer, http: httpx.Client
) -> None:
    orgs = emulator.reset()
    emulator.admin.clock(real=True)
    production, backup = orgs[PRODUCTION.name], orgs[BACKUP.name]

    def post(status: int) -> httpx.Response:
        body = {
            "data": {
                "type": "hamr_org_connections",
                "id": production.uuid,
                "attributes": {
                    "hamr_status": status,
                    "is_primary": True,
                    "modified_by": "t",
                    "target_org_uuid": backup.uuid,
                },
            }
        }
        keyed = {**production.headers, "Idempotency-Key": "nightly-drill"}
        return http.post("/api/v2/hamr", json=body, headers=keyed)

    assert post(2).status_code == 200
    assert post(3).status_code == 422  # the key still holds the first request
    emulator.admin.clock(advance_seconds=25 * 3600)

    again = post(3)

    assert again.status_code == 200, again.text
    assert "idempotency-replayed" not in again.headers
    assert again.json()["data"]["attributes"]["hamr_status"] == 3
    emulator.admin.clock(real=True)


def test_an_app_built_as_an_emulator_without_a_token_fails_at_once(tmp_path: Any) -> None:
    settings = Settings(database_url=sqlite_url(tmp_path / "never.db"), emulator=True)
    with pytest.raises(SettingsError, match="the emulator needs an admin token"):
        create_app(settings)
    assert not (tmp_path / "never.db").exists()  # refused before the database was opened
