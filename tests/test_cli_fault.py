"""`hamr fault add|list|clear` against a running emulator (`hamr.testing.HamrServer`, on a real
socket): what each verb prints, that the emulator then holds (and fires) those rules, and that
every way an operator can get it wrong is one line on stderr and exit status 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from hamr.cli import main
from hamr.testing import HamrServer
from tests import local_http
from tests.conftest import free_port

MIS_SPELT = {"method": "GET", "status": 404, "latency": {"fixed_ms": -1}}


@pytest.fixture(scope="module")
def emulator(hamr_server: HamrServer) -> HamrServer:
    """The pytest plugin's emulator, hamr.testing.HamrServer, as a user's suite has it."""
    return hamr_server


@pytest.fixture(autouse=True)
def no_rules(emulator: HamrServer) -> None:
    emulator.admin.clear()


def hamr_fault(
    emulator: HamrServer, *args: str, url: str | None = None, token: str | None = None
) -> Result:
    env = {"HAMR_URL": url or emulator.url, "HAMR_ADMIN_TOKEN": token or emulator.admin_token}
    return CliRunner().invoke(main, ["fault", *args], env=env)


def refused(result: Result) -> str:
    """The one line an operator's mistake prints, having checked that it is only that."""
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    [line] = result.stderr.splitlines()
    return line


def test_a_rule_added_as_json_is_listed_with_how_often_it_fired(emulator: HamrServer) -> None:
    added = hamr_fault(emulator, "add", '{"path": "/api/v2/hamr", "status": 503, "times": 2}')

    assert added.exit_code == 0, added.output
    [rule] = emulator.faults()
    assert added.stdout == f"added {rule['id']}: /api/v2/hamr -> 503, 2 times\n"
    assert local_http.get(f"{emulator.url}/api/v2/hamr").status_code == 503

    listed = hamr_fault(emulator, "list")
    assert listed.exit_code == 0, listed.output
    assert [line.split() for line in listed.stdout.splitlines()] == [
        ["ID", "MATCHES", "EFFECT", "PROBABILITY", "TIMES", "FIRED"],
        [rule["id"], "/api/v2/hamr", "503", "1", "2", "1"],
    ]
    as_json = hamr_fault(emulator, "list", "--json")
    assert json.loads(as_json.stdout) == emulator.faults()
    assert json.loads(as_json.stdout)[0]["fired"] == 1


def test_a_yaml_file_of_rules_is_added_whole_and_printed_as_the_server_has_them(
    emulator: HamrServer, tmp_path: Path
) -> None:
    rules = tmp_path / "faults.yaml"
    rules.write_text(
        "- method: post\n"
        "  status: 429\n"
        "  retry_after: 7\n"
        "  probability: 0.25\n"
        "- latency: {uniform: {lower_ms: 10, upper_ms: 50}, max_ms: 40}\n"
        "- sequence: [{fault: connection_reset}, {pass: true}]\n"
    )

    added = hamr_fault(emulator, "add", "--file", str(rules))

    assert added.exit_code == 0, added.output
    ids = [rule["id"] for rule in emulator.faults()]
    assert added.stdout.splitlines() == [
        f"added {ids[0]}: POST -> 429 (retry after 7s), probability 0.25",
        f"added {ids[1]}: any request -> latency 10-50ms (at most 40ms)",
        f"added {ids[2]}: any request -> sequence connection_reset, pass",
    ]
    as_json = hamr_fault(emulator, "add", "--file", str(rules), "--json")
    assert json.loads(as_json.stdout) == emulator.faults()[3:]
    one = hamr_fault(emulator, "add", '{"fault": "malformed_body"}', "--json")
    assert json.loads(one.stdout) == emulator.faults()[-1]


def test_clear_removes_one_rule_or_all_of_them(emulator: HamrServer) -> None:
    first = emulator.add_fault(status=500)
    second = emulator.add_fault(fault="empty_response", datacenter="eu1")

    one = hamr_fault(emulator, "clear", first)
    assert (one.exit_code, one.stdout) == (0, f"cleared {first}\n")
    assert [rule["id"] for rule in emulator.faults()] == [second]

    unknown = refused(hamr_fault(emulator, "clear", first))
    assert unknown == f"Error: There is no fault rule {first}; the rules in force are: {second}."

    every = hamr_fault(emulator, "clear")
    assert (every.exit_code, every.stdout) == (0, "cleared 1 fault rule\n")
    assert emulator.faults() == []
    assert hamr_fault(emulator, "list").stdout == "no fault rules in force\n"


def test_a_refused_rule_prints_each_problem_at_its_pointer(
    emulator: HamrServer, tmp_path: Path
) -> None:
    result = hamr_fault(emulator, "add", json.dumps(MIS_SPELT))

    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.splitlines() == [
        "Error: A rule takes exactly one of status, latency, fault or sequence; "
        "got status and latency.",
        "at /status: status must be 429, 500 or 503; got 404.",
        "at /latency/fixed_ms: fixed_ms must be a number of milliseconds, 0 or more; got -1.",
    ]
    rules = tmp_path / "faults.json"
    rules.write_text(json.dumps([{"status": 503}, {"status": 503, "times": 0}]))
    in_a_file = refused(hamr_fault(emulator, "add", "--file", str(rules)))
    assert in_a_file == (
        "Error: at /1/times: times must be a whole number of firings, 1 or more "
        "(leave it out for no limit); got 0."
    )
    assert emulator.faults() == []  # all or none


def test_a_file_that_is_not_yaml_is_one_line_saying_where(
    emulator: HamrServer, tmp_path: Path
) -> None:
    rules = tmp_path / "faults.yaml"
    rules.write_text("- status: 503\n  times: [1\n")

    line = refused(hamr_fault(emulator, "add", "--file", str(rules)))

    assert line == (
        f"Error: the faults file {rules} is not YAML or JSON: expected ',' or ']', but got "
        "'<stream end>' at line 3, column 1 (while parsing a flow sequence)"
    )
    assert emulator.faults() == []


def test_a_rule_that_is_not_json_is_refused_before_anything_is_sent(
    emulator: HamrServer,
) -> None:
    line = refused(hamr_fault(emulator, "add", "{status: 503}", url="http://127.0.0.1:1"))
    assert line.startswith("Error: RULE is not JSON (")


def test_a_wrong_admin_token_names_the_header_and_the_option(emulator: HamrServer) -> None:
    wrong = "not-the-token-at-all"

    line = refused(hamr_fault(emulator, "list", token=wrong))

    assert line == (
        f"Error: {emulator.url} refused the admin token sent as X-Hamr-Admin-Token; pass the "
        "one `hamr serve --emulator` printed at start with --admin-token or HAMR_ADMIN_TOKEN"
    )
    assert wrong not in line


def test_without_an_admin_token_click_asks_for_it(emulator: HamrServer) -> None:
    result = CliRunner().invoke(
        main, ["fault", "list", "--url", emulator.url], env={"HAMR_ADMIN_TOKEN": None}
    )
    assert result.exit_code == 2
    assert "Missing option '--admin-token'" in result.stderr


def test_nothing_listening_at_the_url_is_one_line(emulator: HamrServer) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"

    line = refused(hamr_fault(emulator, "list", url=nowhere))

    assert line == (
        f"Error: nothing is listening at {nowhere}; start the emulator with "
        "`hamr serve --emulator`, or point --url (HAMR_URL) at it"
    )


@pytest.mark.parametrize(
    "verb", [("list",), ("add", '{"status": 503}'), ("clear",), ("clear", "rule-1")]
)
def test_a_server_without_the_admin_api_is_no_emulator(
    emulator: HamrServer, verb: tuple[str, ...]
) -> None:
    # hamr's 404 for a path it does not serve, as a server without --emulator gives for /_hamr/
    elsewhere = f"{emulator.url}/not-hamr"

    line = refused(hamr_fault(emulator, *verb, url=elsewhere))

    assert line == (
        f"Error: {elsewhere} is not a hamr emulator (it has no /_hamr/faults); start one with "
        "`hamr serve --emulator`, or point --url (HAMR_URL) at it"
    )
