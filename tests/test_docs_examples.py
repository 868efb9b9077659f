"""The documentation's examples that no other test runs, run as printed (or, for a sample
answer, set against what hamr really answers): the README's quick starts, docs/api.md's
requests and samples, the emulator's start command, docs/operations.md's deployment and copy
on PostgreSQL, and docs/contributing.md's benchmark commands. The rest are run where their
subject is tested (tests/test_docs.py lists every block and fails on one no test takes)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

from hamr.emulator.admin_auth import ADMIN_HEADER
from hamr.testing import HamrServer, TestOrg
from hamr.usecases.demo import BACKUP, PRODUCTION
from tests import docs, local_http
from tests.conftest import (
    PYTHON,
    ROOT,
    Admin,
    OrgKeys,
    ServeProcess,
    connection_body,
    run_cli,
    sqlite_url,
)
from tests.postgres import PostgresServer

TOKEN = "admin-token-for-the-documented-emulator"
HAMR = "/api/v2/hamr"
RFC3339_MICROS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
ON_SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def shell() -> None:
    docs.shell_tools("curl", "bash")


@pytest.fixture(scope="module")
def emulator(hamr_server: HamrServer) -> HamrServer:
    """The pytest plugin's emulator: its demo pair is the documented examples' Production and
    Backup orgs."""
    return hamr_server


@pytest.fixture
def demo(emulator: HamrServer) -> tuple[TestOrg, TestOrg]:
    primary, secondary = emulator.reset()
    assert (primary.uuid, secondary.uuid) == (PRODUCTION.uuid, BACKUP.uuid)
    return primary, secondary


def keys_env(org: TestOrg | OrgKeys) -> dict[str, str]:
    return {"DD_API_KEY": org.api_key, "DD_APP_KEY": org.app_key}


# -- README.md ---------------------------------------------------------------------------------


def test_the_first_commands_are_what_ci_runs_and_the_demo(tmp_path: Path) -> None:
    """The README's two commands: the second is .ci/run's (which adds -q and the HAMR_REQUIRE_*
    variables); of the first, the suite runs on the package installed, and starts
    `hamr serve --demo` in an empty folder here (tests/test_cli.py runs all it prints)."""
    install_and_serve, install_and_test = (
        shlex.split(line, comments=True) for line in docs.block("README.md", "hamr", 0).splitlines()
    )
    assert install_and_serve == ["pip", "install", ".", "&&", "hamr", "serve", "--demo"]
    assert install_and_test == [
        *("python3", "-m", "pip", "install", "-e", ".[test]", "&&"),
        *("python3", "-m", "pytest"),
    ]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(r"^python3 -m pip install .*-e '\.\[test\]'$", ci, re.MULTILINE)
    assert re.search(r"^\s*python3 -m pytest$", ci, re.MULTILINE)

    url = sqlite_url(tmp_path / "hamr.db")  # ./hamr.db, in the folder it starts in
    demo = ServeProcess(url, tmp_path / "demo.log", "--demo", cwd=tmp_path).start()
    try:
        api_key = re.findall(r"^\s*DD-API-KEY\s+(\S+)\s*$", demo.log(), re.MULTILINE)[0]
        app_key = re.findall(r"^\s*DD-APPLICATION-KEY\s+(\S+)\s*$", demo.log(), re.MULTILINE)[0]
        read = local_http.get(
            demo.url + HAMR,
            headers={"DD-API-KEY": api_key, "DD-APPLICATION-KEY": app_key},
            timeout=10,
        )
        assert read.status_code == 200, read.text
        assert read.json()["data"]["attributes"]["target_org_name"] == BACKUP.name
    finally:
        demo.stop()


def test_the_python_client_prints_the_connection(
    demo: tuple[TestOrg, TestOrg], emulator: HamrServer, tmp_path: Path
) -> None:
    primary, _secondary = demo
    script = (
        docs.block("README.md", "Point a client at it", 0)
        .replace(docs.DOCUMENTED_URL, emulator.url)
        .replace("<DD-API-KEY>", primary.api_key)
        .replace("<DD-APPLICATION-KEY>", primary.app_key)
    )
    (tmp_path / "example.py").write_text(script, encoding="utf-8")
    ran = subprocess.run(
        [PYTHON, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert ran.returncode == 0, ran.stderr
    assert f"'id': '{PRODUCTION.uuid}'" in ran.stdout
    assert f"'target_org_uuid': '{BACKUP.uuid}'" in ran.stdout


def test_the_curl_command_reads_the_connection(
    shell: None, demo: tuple[TestOrg, TestOrg], emulator: HamrServer
) -> None:
    primary, _secondary = demo
    ran = docs.run_block(
        "README.md", "Point a client at it", 1, url=emulator.url, env=keys_env(primary)
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["data"]["id"] == PRODUCTION.uuid


def test_org_create_prints_what_the_readme_shows(tmp_path: Path) -> None:
    command, *shown = docs.block("README.md", "Run it as a control plane", 0).splitlines()
    words = shlex.split(command)
    assert words[0] == "hamr"
    done = run_cli(*words[1:], cwd=tmp_path)  # on ./hamr.db, as printed
    assert done.returncode == 0, done.stderr
    documented = json.loads(" ".join(line.removeprefix("#") for line in shown))
    printed = json.loads(done.stdout)
    assert list(printed) == list(documented)
    assert (printed["name"], printed["datacenter"]) == (documented["name"], "us1")
    assert re.fullmatch(r"[0-9a-f]{32}", printed["api_key"])
    assert re.fullmatch(r"[0-9a-f]{40}", printed["app_key"])
    assert (tmp_path / "hamr.db").is_file()


# -- docs/api.md -------------------------------------------------------------------------------


def test_the_sample_get_answer_is_what_hamr_answers(
    demo: tuple[TestOrg, TestOrg], emulator: HamrServer
) -> None:
    """The sample, once its connection is written, is the answer but for the time of writing:
    the same members in the same order, the same values."""
    primary, _secondary = demo
    sample: dict[str, Any] = json.loads(docs.block("docs/api.md", "`GET /api/v2/hamr`", 0))
    attributes = sample["data"]["attributes"]
    body = {
        "data": {
            "type": "hamr_org_connections",
            "id": sample["data"]["id"],
            "attributes": {
                name: attributes[name]
                for name in (
                    "hamr_status",
                    "is_primary",
                    "modified_by",
                    "target_org_datacenter",
                    "target_org_name",
                    "target_org_uuid",
                )
            },
        }
    }
    assert (
        local_http.post(emulator.url + HAMR, json=body, headers=primary.headers).status_code == 200
    )
    answer = local_http.get(emulator.url + HAMR, headers=primary.headers).json()

    written = answer["data"]["attributes"]
    assert RFC3339_MICROS_Z.match(written["modified_at"])
    assert written["ModifiedAt"] == written["modified_at"].replace("T", " ").removesuffix("Z")
    for times in (answer, sample):
        times["data"]["attributes"].update(modified_at="written", ModifiedAt="written")
    assert json.dumps(answer) == json.dumps(sample)  # the order too


def test_the_sample_error_is_what_hamr_answers(
    demo: tuple[TestOrg, TestOrg], emulator: HamrServer
) -> None:
    primary, secondary = demo
    sample = json.loads(docs.block("docs/api.md", "Errors", 0))
    body = {
        "data": {
            "type": "hamr_org_connections",
            "id": primary.uuid,
            "attributes": {
                "hamr_status": "4",
                "is_primary": True,
                "modified_by": "admin@example.com",
                "target_org_uuid": secondary.uuid,
            },
        }
    }
    answer = local_http.post(emulator.url + HAMR, json=body, headers=primary.headers)
    assert answer.status_code == 400
    assert answer.json() == sample


def test_the_conditional_failover_runs_as_printed(
    shell: None, demo: tuple[TestOrg, TestOrg], emulator: HamrServer, tmp_path: Path
) -> None:
    """Self-contained: in an empty folder, the block makes the file it sends, and its key
    comes from Python (not `uuidgen`, which a Debian machine may lack)."""
    _primary, secondary = demo
    ran = docs.run_block(
        "docs/api.md",
        "Conditional writes, retries and dry runs (hamr's extensions)",
        0,
        url=emulator.url,
        env=keys_env(secondary),
        cwd=tmp_path,
    )
    assert "uuidgen" not in ran.args[-1], ran.args
    assert ran.returncode == 0, ran.stderr
    assert json.loads((tmp_path / "failover.json").read_text())["data"]["id"] == BACKUP.uuid
    answer = json.loads(ran.stdout)
    assert answer["data"]["id"] == BACKUP.uuid
    assert answer["data"]["attributes"]["hamr_status"] == 3
    assert emulator.history(secondary)[-1]["attributes"]["after"]["hamr_status"] == 3


def test_the_history_request_runs_as_printed(
    shell: None, demo: tuple[TestOrg, TestOrg], emulator: HamrServer
) -> None:
    primary, secondary = demo
    failover = connection_body(secondary, primary, hamr_status=3, is_primary=False)
    assert (
        local_http.post(emulator.url + HAMR, json=failover, headers=secondary.headers).status_code
        == 200
    )
    ran = docs.run_block(
        "docs/api.md",
        "`GET /api/v2/hamr/history` (hamr's extension)",
        0,
        url=emulator.url,
        env=keys_env(primary),
    )
    assert ran.returncode == 0, ran.stderr
    rows = json.loads(ran.stdout)["data"]
    assert rows
    assert {row["type"] for row in rows} == {"hamr_history_events"}
    assert {row["attributes"]["after"]["hamr_status"] for row in rows} == {3}


@ON_SQLITE
def test_the_ddr_link_runs_as_printed(
    shell: None, server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    primary, secondary = partner, org
    env = {
        "PRIMARY_UUID": primary.uuid,
        "PRIMARY_API_KEY": primary.api_key,
        "PRIMARY_APP_KEY": primary.app_key,
        "SECONDARY_UUID": secondary.uuid,
        "SECONDARY_API_KEY": secondary.api_key,
        "SECONDARY_APP_KEY": secondary.app_key,
    }
    ran = docs.run_block(
        "docs/api.md",
        "Linking two organizations as Datadog's DDR guide does",
        0,
        url=server.url,
        env=env,
    )
    assert ran.returncode == 0, ran.stderr
    linked, failed_over, read = docs.documents(ran.stdout)
    assert linked["data"]["attributes"]["target_org_name"] == secondary.name
    assert failed_over["data"]["attributes"]["HamrStatus"] == 3
    assert read["data"]["id"] == primary.uuid
    assert read["data"]["attributes"]["HamrStatus"] == 3
    assert read["data"]["attributes"]["IsPrimary"] is True
    assert [row.after["hamr_status"] for row in admin.history(primary.uuid) if row.after] == [1, 3]


# -- docs/emulator.md --------------------------------------------------------------------------


def test_the_emulator_starts_as_printed(tmp_path: Path) -> None:
    command = docs.block("docs/emulator.md", "The emulator and the pytest plugin", 0)
    words = shlex.split(command.replace('"$HAMR_ADMIN_TOKEN"', TOKEN))
    assert words[:2] == ["hamr", "serve"]
    # Its own --database, given after the one ServeProcess passes, is the one that counts.
    unused = sqlite_url(tmp_path / "unused.db")
    emulator = ServeProcess(unused, tmp_path / "log", *words[2:], cwd=tmp_path).start()
    try:
        admin = {ADMIN_HEADER: TOKEN}
        assert local_http.get(emulator.url + "/_hamr/clock", headers=admin).status_code == 200
        assert local_http.get(emulator.url + "/_hamr/clock").status_code == 403
        assert (tmp_path / "emulator.db").is_file()
        assert not (tmp_path / "unused.db").exists()
    finally:
        emulator.stop()


# -- docs/operations.md ------------------------------------------------------------------------


def test_several_processes_start_on_postgresql_as_printed(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    postgres.create_database("hamr_documented_deploy")
    url = postgres.url_for("hamr_documented_deploy")
    export, upgrade, serve = (
        shlex.split(line, comments=True)
        for line in docs.block("docs/operations.md", "Several processes on PostgreSQL", 0)
        .strip()
        .splitlines()
    )
    name, _, documented = export[1].partition("=")
    assert (export[0], name) == ("export", "HAMR_DATABASE_URL")
    assert documented.startswith("postgresql://")
    env = {**os.environ, "HAMR_DATABASE_URL": url}
    assert upgrade[0] == "hamr"
    upgraded = run_cli(*upgrade[1:], env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert serve[:2] == ["hamr", "serve"]
    flags = serve[2:]
    at = flags.index("--port")
    assert flags[at + 1] == "8080"
    del flags[at : at + 2]  # a free port instead (ServeProcess's)
    node = ServeProcess(url, tmp_path / "serve.log", *flags, env=env).start()
    try:
        ready = local_http.get(node.url + "/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
    finally:
        node.stop()
    assert "--host" in flags
    assert flags[flags.index("--host") + 1] == "0.0.0.0"  # noqa: S104


def test_the_documented_copy_to_postgresql_runs(postgres: PostgresServer, tmp_path: Path) -> None:
    made = run_cli("org", "create", "--name", "Copied Org", "--datacenter", "eu1", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    postgres.create_database("hamr_documented_copy")
    target = postgres.url_for("hamr_documented_copy")
    words = shlex.split(docs.block("docs/operations.md", "Backups", 0))
    assert words[:3] == ["hamr", "db", "copy"]
    documented = words[words.index("--to") + 1]
    assert documented.startswith("postgresql://")
    words[words.index("--to") + 1] = target
    copied = run_cli(*words[1:], cwd=tmp_path)  # from ./hamr.db, as printed
    assert copied.returncode == 0, copied.stderr
    listed = run_cli("org", "list", "--json", database_url=target)
    assert [org["name"] for org in json.loads(listed.stdout)] == ["Copied Org"]


# -- docs/contributing.md ----------------------------------------------------------------------


def test_the_benchmark_commands_are_the_scripts_the_suite_smoke_runs() -> None:
    """A full benchmark run takes hours, so it is not run here: each documented command names
    a script of bench/ whose seconds-long `--smoke` run is in tests/bench, and flags it
    takes."""
    smoke_runs = "\n".join(p.read_text() for p in (ROOT / "tests" / "bench").glob("test_*.py"))
    for line in docs.block("docs/contributing.md", "Benchmarks", 0).splitlines():
        words = shlex.split(line, comments=True)
        assert words[0] == "python3", line
        script = words[1]
        assert (ROOT / script).is_file(), line
        assert f'"{script}", "--smoke"' in smoke_runs, f"no smoke run of {script} in tests/bench"
        usage = subprocess.run(
            [PYTHON, script, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert usage.returncode == 0, usage.stderr
        for flag in words[2:]:
            assert flag in usage.stdout, (line, flag)
