"""Datadog's documented curl commands (curl/get.sh, curl/create.sh), run with bash as they
are written, against hamr as the host.

The commands print only the body. To see the status too without touching them, curl is given a
config file of its own (CURL_HOME/.curlrc, which also keeps a user's ~/.curlrc out) that turns
off the progress meter and appends a marked status line to what the command prints.

The commands print the body as hamr sent it, so they are compared byte for byte: with hamr's
default `both`, the documented attributes and then the live API's; with `--wire contract`, the
documented response itself, compacted, exactly as the page shows it."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests import apt
from tests.clients.conftest import (
    CLIENTS,
    CONTRACT_ORDER,
    GET_PAGE,
    POST_PAGE,
    SEED_BODY,
    SEED_ORG_UUID,
    WIRES,
    SeedHamr,
    assert_documented_connection_stored,
    assert_same_document,
    code_lines,
    documented_response,
    fenced_blocks,
    run_example,
    seed_curl_commands,
    seed_page,
)

MARKER = "\nHAMR-TEST-STATUS: "
# curl's config syntax: quoted values take \n escapes; write-out's %{...} are its variables.
CURLRC = (
    'silent\nshow-error\nwrite-out = "'
    + MARKER.replace("\n", "\\n")
    + '%{http_code} %{content_type}"\n'
)
SEED_URL = re.compile(r'"https://api\.\S*/api/v2/hamr"')


@pytest.fixture(scope="session")
def curl_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Never a skip: the documented curl commands are part of the contract hamr keeps.
    problems = [apt.install(tool) for tool in ("curl", "bash") if shutil.which(tool) is None]
    missing = [tool for tool in ("curl", "bash") if shutil.which(tool) is None]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found on PATH, and could not be installed "
            f"({'; '.join(p for p in problems if p)}): the curl examples run curl in bash"
        )
    home = tmp_path_factory.mktemp("curl")
    (home / ".curlrc").write_text(CURLRC)
    return home


def documented_example() -> dict[str, Any]:
    """The GET page's example 200 response, in its own order."""
    (example_200,) = [b for b in fenced_blocks(seed_page(GET_PAGE), "json") if "hamr_status" in b]
    document: dict[str, Any] = json.loads(example_200)
    return document


def compact(document: dict[str, Any]) -> bytes:
    """A document as hamr writes it: JSON without spaces, members in the document's order."""
    return json.dumps(document, separators=(",", ":")).encode()


def expected_bytes(seed: SeedHamr, modified_at: str) -> bytes:
    """What a command prints for the documented connection. On the contract's wire, it is the
    page's own example with this `modified_at`."""
    if seed.wire == "contract":
        document = documented_example()
        document["data"]["attributes"]["modified_at"] = modified_at
        return compact(document)
    return compact(seed.expected(modified_at))


def run_curl(script: str, env: Mapping[str, str], curl_home: Path) -> tuple[int, str, bytes]:
    """Run curl/SCRIPT: its status, Content-Type and body, exactly as printed."""
    result = run_example(
        ["bash", str(CLIENTS / "curl" / script)], {**env, "CURL_HOME": str(curl_home)}
    )
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.stderr == ""
    body, marker, trailer = result.stdout.rpartition(MARKER)
    assert marker, result.stdout
    status, _, content_type = trailer.partition(" ")
    return int(status), content_type, body.encode()


@pytest.mark.parametrize(
    ("page", "method", "script"),
    [(GET_PAGE, "GET", "get.sh"), (POST_PAGE, "POST", "create.sh"), (POST_PAGE, "GET", "get.sh")],
)
def test_command_is_the_seeds_but_for_the_host(page: str, method: str, script: str) -> None:
    """Each of the pages' curl commands is one of the scripts, once the URL is hamr's."""
    (seed,) = [
        command
        for command in seed_curl_commands(seed_page(page))
        if command.startswith(f"curl -X {method} ")
    ]
    expected, replaced = SEED_URL.subn('"${HAMR_URL}/api/v2/hamr"', seed)
    assert replaced == 1
    script_text = (CLIENTS / "curl" / script).read_text()
    assert code_lines(script_text, "#") == code_lines(expected, "#")


def test_documented_body_and_response_are_the_seeds() -> None:
    """The body every example sends and the response the tests expect are the pages' own."""
    (post,) = [c for c in seed_curl_commands(seed_page(POST_PAGE)) if c.startswith("curl -X POST")]
    heredoc = post.split("<< EOF\n", 1)[1].rsplit("EOF", 1)[0]
    assert json.loads(heredoc) == SEED_BODY
    example = documented_example()
    assert_same_document(example, documented_response("2026-01-13T17:26:48.830968Z"))
    assert list(example["data"]) == ["attributes", "id", "type"]
    assert tuple(example["data"]["attributes"]) == CONTRACT_ORDER


@pytest.mark.parametrize("wire", WIRES)
def test_get_command_prints_the_documented_connection(
    curl_home: Path, seed_hamr: SeedHamr, wire: str
) -> None:
    seed = seed_hamr.on(wire)
    stored = seed.post_documented_body().json()
    modified_at = stored["data"]["attributes"]["modified_at"]

    status, content_type, body = run_curl("get.sh", seed.env(), curl_home)

    assert (status, content_type) == (200, "application/json")
    assert_same_document(json.loads(body), seed.expected(modified_at))
    assert body == expected_bytes(seed, modified_at)
    assert body == seed.get().content


def test_get_command_before_any_post_is_the_documented_404(
    curl_home: Path, seed_hamr: SeedHamr
) -> None:
    stranger = seed_hamr.stranger

    status, content_type, body = run_curl("get.sh", seed_hamr.env(stranger), curl_home)

    assert (status, content_type) == (404, "application/json")
    (error,) = json.loads(body)["errors"]
    assert error["status"] == "404"
    assert error["title"] == "Not Found"
    assert body == seed_hamr.get(stranger).content
    assert seed_hamr.admin.connection(stranger.uuid) is None


@pytest.mark.parametrize("wire", WIRES)
def test_create_command_stores_the_documented_connection(
    curl_home: Path, seed_hamr: SeedHamr, wire: str
) -> None:
    seed = seed_hamr.on(wire)
    history_before = len(seed.admin.history(SEED_ORG_UUID))

    status, content_type, body = run_curl("create.sh", seed.env(), curl_home)

    assert (status, content_type) == (200, "application/json")
    response = json.loads(body)
    modified_at = response["data"]["attributes"]["modified_at"]
    assert_same_document(response, seed.expected(modified_at))
    assert body == expected_bytes(seed, modified_at)
    assert_documented_connection_stored(seed, history_before, modified_at)
    assert body == seed.get().content


def test_create_command_from_another_org_is_a_403_and_changes_nothing(
    curl_home: Path, seed_hamr: SeedHamr
) -> None:
    stranger = seed_hamr.stranger
    before = seed_hamr.admin.snapshot(SEED_ORG_UUID), seed_hamr.admin.snapshot(stranger.uuid)

    status, content_type, body = run_curl("create.sh", seed_hamr.env(stranger), curl_home)

    assert (status, content_type) == (403, "application/json")
    (error,) = json.loads(body)["errors"]
    assert error["status"] == "403"
    assert error["source"] == {"pointer": "/data/id"}
    after = seed_hamr.admin.snapshot(SEED_ORG_UUID), seed_hamr.admin.snapshot(stranger.uuid)
    assert after == before
