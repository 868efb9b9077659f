"""The emulator's fault rules through a real `hamr serve --emulator` (SQLite and PostgreSQL):
the rules API, every effect as a client meets it, matching, spent rules, nothing stored by a
faulted write, per-datacenter sites and a site that goes down, rules from a file, and the rate
limits following the virtual clock."""

from __future__ import annotations

import json
import os
import shlex
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hamr.emulator.admin_auth import ADMIN_HEADER
from hamr.testing import TestOrg
from hamr.usecases.demo import BACKUP, PRODUCTION
from tests import docs, local_http
from tests.conftest import (
    ADMIN,
    ADMIN_TOKEN,
    ROOT,
    EmulatorServer,
    ServeProcess,
    free_port,
    run_cli,
    sqlite_url,
)

HAMR = "/api/v2/hamr"


@pytest.fixture(scope="module")
def emulator_flags() -> tuple[str, ...]:
    return ("--rate-limit", "hamr_post=3/60")


@pytest.fixture(scope="module")
def sites(emulator: EmulatorServer) -> dict[str, int]:
    """The port of each datacenter's site."""
    return emulator.site_ports


@pytest.fixture
def http(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    with local_http.client(base_url=emulator.url, timeout=10) as client:
        yield client


@pytest.fixture
def demo(emulator: EmulatorServer) -> dict[str, TestOrg]:
    """The demo pair with fresh keys, no rules, the real time (every test starts here)."""
    orgs = emulator.reset()
    emulator.admin.clock(real=True)
    return orgs


@pytest.fixture
def primary(demo: dict[str, TestOrg]) -> TestOrg:
    return demo[PRODUCTION.name]


@pytest.fixture
def secondary(demo: dict[str, TestOrg]) -> TestOrg:
    return demo[BACKUP.name]


def the_error(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    (error,) = answer.json()["errors"]
    return error  # type: ignore[no-any-return]


def passive_body(org: TestOrg, status: int = 2) -> dict[str, Any]:
    """The demo primary's connection body, with this status."""
    return {
        "data": {
            "type": "hamr_org_connections",
            "id": org.uuid,
            "attributes": {
                "hamr_status": status,
                "is_primary": True,
                "modified_by": "fault-tests",
                "target_org_datacenter": BACKUP.datacenter,
                "target_org_name": BACKUP.name,
                "target_org_uuid": BACKUP.uuid,
            },
        }
    }


# -- the rules API ----------------------------------------------------------------------------


def test_rules_are_added_listed_in_order_with_fired_counts_and_removed(
    emulator: EmulatorServer, http: httpx.Client, primary: TestOrg
) -> None:
    posted = [
        http.post("/_hamr/faults", json=rule, headers=ADMIN)
        for rule in (
            {"path": "/nowhere", "status": 500},
            {"method": "get", "path": HAMR, "status": 503, "times": 1},
        )
    ]
    assert [answer.status_code for answer in posted] == [201, 201], posted[-1].text
    first, second = (answer.json()["data"] for answer in posted)
    assert first["type"] == "hamr_fault_rule"
    assert (first["id"], second["id"]) != ("", "")
    assert second["attributes"] == {
        "method": "GET",
        "path": HAMR,
        "probability": 1,
        "times": 1,
        "status": 503,
        "fired": 0,
    }
    assert http.get(HAMR, headers=primary.headers).status_code == 503
    assert http.get(HAMR, headers=primary.headers).status_code == 200  # spent after 1
    assert [(r["id"], r["fired"]) for r in emulator.admin.rules()] == [
        (first["id"], 0),
        (second["id"], 1),
    ]
    assert http.delete(f"/_hamr/faults/{first['id']}", headers=ADMIN).status_code == 204
    assert [r["id"] for r in emulator.admin.rules()] == [second["id"]]
    gone = the_error(http.delete(f"/_hamr/faults/{first['id']}", headers=ADMIN), 404)
    assert first["id"] in gone["detail"]
    assert second["id"] in gone["detail"]
    cleared = http.delete("/_hamr/faults", headers=ADMIN)
    assert cleared.json() == {"meta": {"cleared": 1}}
    assert emulator.admin.rules() == []


def test_a_list_of_rules_is_added_all_or_none(
    emulator: EmulatorServer, http: httpx.Client, demo: object
) -> None:
    answer = http.post("/_hamr/faults", json=[{"status": 500}, {"status": 418}], headers=ADMIN)
    error = the_error(answer, 400)
    assert error["source"] == {"pointer": "/1/status"}
    assert "429, 500 or 503" in error["detail"]
    assert emulator.admin.rules() == []
    both = [{"status": 500, "path": "/a"}, {"status": 503, "path": "/b"}]
    answer = http.post("/_hamr/faults", json=both, headers=ADMIN)
    assert answer.status_code == 201, answer.text
    assert [rule["attributes"]["path"] for rule in answer.json()["data"]] == ["/a", "/b"]


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (b"{", ""),
        (b'{"status": 503, "colour": "red"}', "/colour"),
        (b'{"fault": "gremlins"}', "/fault"),
        (b'{"status": 503, "probability": 2}', "/probability"),
    ],
)
def test_a_rule_that_cannot_be_used_is_a_400_at_its_field_and_adds_nothing(
    emulator: EmulatorServer, http: httpx.Client, demo: object, body: bytes, pointer: str
) -> None:
    answer = http.post(
        "/_hamr/faults", content=body, headers={**ADMIN, "Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert pointer in [e["source"]["pointer"] for e in answer.json()["errors"]]
    assert emulator.admin.rules() == []


def test_the_rules_api_needs_the_admin_token(
    emulator: EmulatorServer, http: httpx.Client, demo: object
) -> None:
    for method in ("GET", "POST", "DELETE"):
        error = the_error(http.request(method, "/_hamr/faults", json={"status": 500}), 403)
        assert error["source"] == {"header": ADMIN_HEADER}
    assert emulator.admin.rules() == []


def test_without_the_emulator_there_are_no_fault_rules(server: ServeProcess) -> None:
    answer = local_http.get(f"{server.url}/_hamr/faults", headers=ADMIN)
    assert answer.status_code == 404


def test_the_admin_api_is_never_faulted_so_a_rule_can_always_be_cleared(
    emulator: EmulatorServer, http: httpx.Client, demo: object
) -> None:
    emulator.admin.add({"fault": "connection_reset"})
    assert len(emulator.admin.rules()) == 1
    assert http.delete("/_hamr/faults", headers=ADMIN).status_code == 200


def test_a_reset_clears_the_rules(emulator: EmulatorServer, demo: object) -> None:
    emulator.admin.add({"status": 500})
    emulator.reset("empty")
    assert emulator.admin.rules() == []


# -- effects, as clients meet them --------------------------------------------------------


def test_a_503_is_hamrs_json_api_error_with_retry_after(
    emulator: EmulatorServer, http: httpx.Client, primary: TestOrg
) -> None:
    rule = emulator.admin.add({"status": 503, "retry_after": 7})[0]
    answer = http.get(HAMR, headers=primary.headers)
    error = the_error(answer, 503)
    assert answer.headers["Retry-After"] == "7"
    assert error["title"] == "Service Unavailable"
    assert rule["id"] in error["detail"]
    assert "DELETE /_hamr/faults" in error["detail"]
    assert answer.headers["x-request-id"]


def test_a_500_is_hamrs_json_api_error(
    emulator: EmulatorServer, http: httpx.Client, primary: TestOrg
) -> None:
    emulator.admin.add({"status": 500})
    assert the_error(http.get(HAMR, headers=primary.headers), 500)["status"] == "500"


def test_a_429_has_datadogs_rate_limit_headers_and_body(
    emulator: EmulatorServer, http: httpx.Client, primary: TestOrg
) -> None:
    emulator.admin.add({"method": "POST", "status": 429, "retry_after": 3})
    answer = http.post(HAMR, json=passive_body(primary), headers=primary.headers)
    assert answer.status_code == 429
    assert answer.json() == {"errors": ["Too many requests"]}
    assert {name: answer.headers[name] for name in answer.headers if "ratelimit" in name} == {
        "x-ratelimit-limit": "3",
        "x-ratelimit-period": "60",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": "3",
        "x-ratelimit-name": "hamr_post",
    }


def test_a_faulted_write_stores_nothing(
    emulator: EmulatorServer, http: httpx.Client, primary: TestOrg
) -> None:
    before = http.get(HAMR, headers=primary.headers).json()
    history = http.get(f"{HAMR}/history", headers=primary.headers).json()["data"]
    for rule in ({"status": 503}, {"fault": "connection_reset"}, {"fault": "empty_response"}):
        with local_http.client(base_url=http.base_url, timeout=10) as once:
            emulator.admin.add({"method": "POST", **rule})
            with pytest.raises(httpx.TransportError) if "fault" in rule else _no_error():
                once.post(HAMR, json=passive_body(primary, 1), headers=primary.headers)
            emulator.admin.clear()
    assert http.get(HAMR, headers=primary.headers).json() == before
    assert http.get(f"{HAMR}/history", headers=primary.headers).json()["data"] == history


class _no_error:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


def test_latency_delays_the_real_answer(
    emulator: EmulatorServer, http: httpx.Client, primary: TestOrg
) -> None:
    emulator.admin.add({"latency": {"fixed_ms": 300}})
    started = time.monotonic()
    answer = http.get(HAMR, headers=primary.headers)
    assert time.monotonic() - started >= 0.3
    assert answer.status_code == 200
    assert answer.json()["data"]["id"] == primary.uuid


def test_a_connection_reset_reaches_the_client_as_one(
    emulator: EmulatorServer, http: httpx.Client, primary: TestOrg
) -> None:
    emulator.admin.add({"fault": "connection_reset"})
    with pytest.raises(httpx.ReadError, match="Connection reset by peer"):
        http.get(HAMR, headers=primary.headers)


def test_an_empty_response_is_a_connection_closed_without_an_answer(
    emulator: EmulatorServer, http: httpx.Client, primary: TestOrg
) -> None:
    emulator.admin.add({"fault": "empty_response"})
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        http.get(HAMR, headers=primary.headers)


def test_a_malformed_body_is_a_200_whose_json_is_cut_short(
    emulator: EmulatorServer, http: httpx.Client, primary: TestOrg
) -> None:
    emulator.admin.add({"fault": "malformed_body"})
    answer = http.get(HAMR, headers={**primary.headers, "Accept-Encoding": "gzip"})
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert int(answer.headers["content-length"]) == len(answer.content)
    assert "content-encoding" not in answer.headers  # the parser, not gzip, meets the damage
    assert answer.content.startswith(b'{"data":')
    with pytest.raises(ValueError, match=r"control character|Unterminated|Expecting"):
        answer.json()


def test_a_sequence_answers_in_turn_then_passes_through(
    emulator: EmulatorServer, http: httpx.Client, primary: TestOrg
) -> None:
    emulator.admin.add({"sequence": [{"status": 503}, {"pass": True}, {"status": 500}]})
    statuses = [http.get(HAMR, headers=primary.headers).status_code for _ in range(5)]
    assert statuses == [503, 200, 500, 200, 200]


def test_probability_zero_never_fires(
    emulator: EmulatorServer, http: httpx.Client, primary: TestOrg
) -> None:
    emulator.admin.add({"status": 500, "probability": 0})
    assert {http.get(HAMR, headers=primary.headers).status_code for _ in range(20)} == {200}
    assert emulator.admin.rules()[0]["fired"] == 0


# -- matching -----------------------------------------------------------------------------------


def test_rules_match_on_method_path_org_and_the_callers_datacenter(
    emulator: EmulatorServer, http: httpx.Client, primary: TestOrg, secondary: TestOrg
) -> None:
    emulator.admin.add({"org": secondary.uuid, "status": 500})
    assert http.get(HAMR, headers=primary.headers).status_code == 200
    assert http.get(HAMR, headers=secondary.headers).status_code == 500
    emulator.admin.clear()
    emulator.admin.add(
        {"datacenter": "eu1.prod.dog", "method": "GET", "path": "/api/v2/*", "status": 503}
    )
    assert http.get(HAMR, headers=primary.headers).status_code == 503  # eu1
    assert http.get(HAMR, headers=secondary.headers).status_code == 200  # us1
    assert http.get("/healthz").status_code == 200  # another path
    answer = http.post(HAMR, json=passive_body(primary), headers=primary.headers)
    assert answer.status_code == 200  # another method


def test_the_first_rule_that_matches_wins(
    emulator: EmulatorServer, http: httpx.Client, primary: TestOrg
) -> None:
    emulator.admin.add({"path": HAMR, "status": 503})
    emulator.admin.add({"status": 500})
    assert http.get(HAMR, headers=primary.headers).status_code == 503
    assert http.get("/healthz").status_code == 500
    assert [r["fired"] for r in emulator.admin.rules()] == [1, 1]


# -- sites ----------------------------------------------------------------------------------------


def site(sites: dict[str, int], datacenter: str) -> str:
    return f"http://127.0.0.1:{sites[datacenter]}"


def test_each_site_serves_only_its_own_datacenters_orgs(
    sites: dict[str, int], primary: TestOrg, secondary: TestOrg
) -> None:
    assert local_http.get(site(sites, "eu1") + HAMR, headers=primary.headers).status_code == 200
    assert local_http.get(site(sites, "us1") + HAMR, headers=secondary.headers).status_code == 200
    answer = local_http.get(site(sites, "us1") + HAMR, headers=primary.headers)
    error = the_error(answer, 403)
    assert error["source"] == {"header": "DD-API-KEY"}
    assert f"127.0.0.1:{sites['us1']}" in error["detail"]
    assert f"call its own site's host, 127.0.0.1:{sites['eu1']}" in error["detail"]


def test_a_site_that_is_down_refuses_connections_until_the_rule_is_cleared(
    emulator: EmulatorServer,
    http: httpx.Client,
    sites: dict[str, int],
    primary: TestOrg,
    secondary: TestOrg,
) -> None:
    with local_http.client(base_url=site(sites, "eu1"), timeout=5) as kept_alive:
        assert kept_alive.get(HAMR, headers=primary.headers).status_code == 200
        down = emulator.admin.add({"datacenter": "eu1", "fault": "down"})[0]
        _eventually(lambda: _refused(site(sites, "eu1")))
        # Its idle connection was closed too: the client finds it closed (and the site
        # refusing a new one), or, if the site's reset arrives as it sends, reset.
        with pytest.raises((httpx.ConnectError, httpx.ReadError)):
            kept_alive.get(HAMR, headers=primary.headers)
    assert local_http.get(site(sites, "us1") + HAMR, headers=secondary.headers).status_code == 200
    with pytest.raises(httpx.ReadError):  # on the main address, eu1's orgs are reset
        local_http.get(f"{http.base_url}{HAMR}", headers=primary.headers)
    assert http.get(HAMR, headers=secondary.headers).status_code == 200
    emulator.admin.remove(down["id"])
    _eventually(lambda: not _refused(site(sites, "eu1")))
    assert local_http.get(site(sites, "eu1") + HAMR, headers=primary.headers).status_code == 200


def _refused(url: str) -> bool:
    """Whether the address refuses connections. One accepted and then reset is a site still
    closing its listener: not refused yet."""
    try:
        local_http.get(url + "/healthz", timeout=2)
    except httpx.ConnectError:
        return True
    except httpx.ReadError:
        return False
    return False


def _eventually(check: Any, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within 5 s"
        time.sleep(0.02)


# -- the clock ------------------------------------------------------------------------------------


def test_rate_limit_windows_follow_the_virtual_clock(
    emulator: EmulatorServer, http: httpx.Client, primary: TestOrg
) -> None:
    emulator.admin.clock(set="2031-01-01T00:00:01Z")
    statuses = [
        http.post(HAMR, json=passive_body(primary), headers=primary.headers).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    emulator.admin.clock(advance_seconds=60)
    answer = http.post(HAMR, json=passive_body(primary), headers=primary.headers)
    assert answer.status_code == 200
    assert answer.headers["x-ratelimit-remaining"] == "2"


# -- rules from a file ---------------------------------------------------------------------------


def test_rules_from_a_faults_file_are_in_force_from_the_start(
    tmp_path: Path, emulator_database: str
) -> None:
    faults = tmp_path / "faults.yaml"
    faults.write_text(
        "- method: POST\n  status: 503\n  retry_after: 2\n"
        "- path: /api/v2/hamr\n  latency: {uniform: {lower_ms: 1, upper_ms: 5}}\n",
        encoding="utf-8",
    )
    running = EmulatorServer(emulator_database, tmp_path / "server.log", "--faults", str(faults))
    running.start()
    try:
        assert [r.get("status") for r in running.admin.rules()] == [503, None]
        assert local_http.post(f"{running.url}{HAMR}", json={}).status_code == 503
    finally:
        running.stop()


def test_a_faults_file_with_a_bad_rule_stops_the_start_in_one_line(tmp_path: Path) -> None:
    faults = tmp_path / "faults.yaml"
    faults.write_text("- status: 503\n- fault: gremlins\n", encoding="utf-8")
    done = run_cli(
        "serve",
        "--emulator",
        "--faults",
        str(faults),
        "--port",
        str(free_port()),
        "--database",
        sqlite_url(tmp_path / "hamr.db"),
        cwd=ROOT,
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert str(faults) in line
    assert "rule 2: " in line
    assert "gremlins" in line


# -- the documented examples, run as printed ---------------------------------------------------


@pytest.fixture(scope="module")
def shell_tools() -> None:
    docs.shell_tools("curl", "bash", "jq")


def test_the_documented_fault_rules_run_as_printed(
    shell_tools: None, emulator: EmulatorServer, http: httpx.Client, demo: object, tmp_path: Path
) -> None:
    ran = docs.run_block(
        "docs/emulator.md",
        "Fault rules",
        0,
        url=emulator.url,
        env={"HAMR_ADMIN_TOKEN": ADMIN_TOKEN},
        cwd=tmp_path,
    )
    assert ran.returncode == 0, ran.stderr
    listed = docs.documents(ran.stdout)[2]["data"]
    assert [rule["attributes"].get("status") for rule in listed] == [503, None]
    assert listed[1]["attributes"]["sequence"][0] == {"fault": "connection_reset"}
    assert emulator.admin.rules() == []  # the last line cleared them


def test_the_documented_sites_run_as_printed(
    shell_tools: None, emulator: EmulatorServer, sites: dict[str, int], tmp_path: Path
) -> None:
    serve = docs.block("docs/emulator.md", "Sites: one API host per datacenter", 0)
    flags = shlex.split(serve.replace("\\\n", " ").replace('"$HAMR_ADMIN_TOKEN"', ADMIN_TOKEN))
    assert flags[:2] == ["hamr", "serve"]
    shown = run_cli("config", "--json", *flags[2:])
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["sites"]["value"] == "eu1=127.0.0.1:8081,us1=127.0.0.1:8082"
    script = (
        docs.block("docs/emulator.md", "Sites: one API host per datacenter", 1)
        .replace("127.0.0.1:8080", emulator.url.removeprefix("http://"))
        .replace("127.0.0.1:8081", f"127.0.0.1:{sites['eu1']}")
        .replace("127.0.0.1:8082", f"127.0.0.1:{sites['us1']}")
    )
    ran = docs.run_sh(script, env={"HAMR_ADMIN_TOKEN": ADMIN_TOKEN}, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    own_site, other_site, _down_rule, *_ = docs.documents(ran.stdout)
    assert own_site["data"]["id"] == PRODUCTION.uuid
    assert other_site["errors"][0]["status"] == "403"
    assert "}eu1 is down\n" in ran.stdout  # curl could not connect, and said nothing


def test_the_documented_fault_commands_run_as_printed(
    emulator: EmulatorServer, http: httpx.Client, demo: object, tmp_path: Path
) -> None:
    (tmp_path / "faults.yaml").write_text(
        docs.block("docs/emulator.md", "From the command line and from files", 0), encoding="utf-8"
    )
    env = {**os.environ, "HAMR_URL": emulator.url, "HAMR_ADMIN_TOKEN": ADMIN_TOKEN}
    outputs = []
    for line in docs.block(
        "docs/emulator.md", "From the command line and from files", 1
    ).splitlines():
        command = shlex.split(line)
        assert command[:2] == ["hamr", "fault"]
        if command[2] == "clear":
            assert [r.get("status") for r in emulator.admin.rules()] == [503, None, None]
            assert emulator.admin.rules()[2]["datacenter"] == "eu1"
        done = run_cli(*command[1:], cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    assert "503" in outputs[2]
    assert emulator.admin.rules() == []


def test_a_faults_file_may_start_a_site_down(tmp_path: Path, emulator_database: str) -> None:
    faults = tmp_path / "faults.yaml"
    faults.write_text("- {datacenter: eu1, fault: down}\n", encoding="utf-8")
    running = EmulatorServer(emulator_database, tmp_path / "server.log", "--faults", str(faults))
    running.start()
    eu1 = running.site_urls["eu1"]
    try:
        _eventually(lambda: _refused(eu1))
        running.admin.clear()
        _eventually(lambda: not _refused(eu1))
    finally:
        running.stop()


def test_a_broken_connection_is_logged_as_499_with_the_rule_that_broke_it(
    emulator: EmulatorServer, http: httpx.Client, primary: TestOrg
) -> None:
    rule = emulator.admin.add({"fault": "empty_response"})[0]
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(HAMR, headers={**primary.headers, "X-Request-Id": "broken-by-a-rule"})

    def logged() -> list[dict[str, Any]]:
        lines = (json.loads(x) for x in emulator.log().splitlines() if x.startswith("{"))
        return [x for x in lines if "broken-by-a-rule" in x.values() or x.get("rule")]

    _eventually(lambda: any(x.get("request_id") == "broken-by-a-rule" for x in logged()))
    access = next(x for x in logged() if x.get("request_id") == "broken-by-a-rule")
    assert access["status"] == 499
    assert any(x.get("rule") == rule["id"] and x["path"] == HAMR for x in logged())
