"""`hamr pair failover --datacenter DC` (and its siblings): the datacenter operation from the
command line, walked by the command itself with a progress bar on a terminal, or followed
while a server walks it; a dry run stores nothing."""

from __future__ import annotations

import json
import os
import pty
import shlex
import subprocess
import uuid
from pathlib import Path

import pytest

from bench.seed import org_uuid, seed
from hamr.domain.model import HamrStatus, Org, Permission, Principal, RequestedChange
from hamr.domain.rules import default_pointers
from hamr.store.sql import open_store
from tests import docs
from tests.conftest import PYTHON, Admin, database_of_its_own, run_cli, sqlite_url

# Three batches of the operation's 500 pairs.
PAIRS = 1_200


@pytest.fixture
def seeded(
    database_url: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A database of its own with PAIRS pairs, each primary in us1 and PASSIVE."""
    url = database_of_its_own(
        f"cli_dc_{uuid.uuid4().hex[:8]}", database_url, request, tmp_path_factory
    )
    seed(url, 2 * PAIRS)
    return url


def statuses(url: str) -> set[int]:
    store = open_store(url)
    try:
        return {
            int(connection.hamr_status)
            for i in range(PAIRS)
            if (connection := store.view.connection(org_uuid(2 * i + 1))) is not None
        }
    finally:
        store.close()


def on_a_terminal(*args: str, database_url: str) -> tuple[int, str, str]:
    """Run `hamr ARGS` with its standard error on a terminal (where progress bars draw) and
    its standard output piped; the exit status, the terminal's text and the output."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [PYTHON, "-m", "hamr", *args, "--database", database_url],
        stdout=subprocess.PIPE,
        stderr=follower,
        stdin=subprocess.DEVNULL,
    )
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        drawn += chunk
    out, _ = process.communicate(timeout=120)
    os.close(leader)
    return process.returncode, drawn.decode(errors="replace"), out.decode()


def test_a_datacenter_failover_draws_its_progress_and_walks_every_pair(seeded: str) -> None:
    code, drawn, out = on_a_terminal(
        "pair", "failover", "--datacenter", "us1", "--reason", "us1 is down", database_url=seeded
    )
    assert code == 0, drawn + out
    frames = [frame.strip() for frame in drawn.replace("\r", "\n").splitlines() if frame.strip()]
    bars = [frame for frame in frames if "failover us1  [" in frame]
    assert bars, drawn
    # Empty at the start, filling as each batch commits, full at the end.
    assert f"[{'-' * 36}]  0/{PAIRS}" in bars[0]
    assert any(
        f"  500/{PAIRS}  " in bar and "done 500  refused 0  remaining 700" in bar for bar in bars
    )
    assert f"[{'#' * 36}]  {PAIRS}/{PAIRS}  done {PAIRS}  refused 0  remaining 0" in bars[-1]
    assert out == f"failover of us1: walked {PAIRS} of {PAIRS} pairs, refused 0\n"
    assert statuses(seeded) == {4}

    # Run again: every pair is refused, and the first refusals are named.
    again = run_cli(
        "pair",
        "failover",
        "--datacenter",
        "us1",
        "--reason",
        "again",
        "--json",
        database_url=seeded,
    )
    assert again.returncode == 0, again.stderr
    answer = json.loads(again.stdout)
    assert (answer["done"], answer["refused"], answer["state"]) == (0, PAIRS, "finished")
    assert (
        answer["refusals"][0]["detail"] == "The pair is 4 ACTIVE; failover starts from 2 PASSIVE."
    )
    assert len(answer["refusals"]) == 20


def test_a_dry_run_counts_and_stores_nothing(seeded: str) -> None:
    tried = run_cli(
        "pair",
        "recover",
        "--datacenter",
        "us1.prod.dog",
        "--reason",
        "drill",
        "--dry-run",
        database_url=seeded,
    )
    assert tried.returncode == 0, tried.stderr
    lines = tried.stdout.splitlines()
    assert lines[0] == f"recover of us1 would walk 0 of {PAIRS} pairs and refuse {PAIRS}"
    assert lines[1].endswith(": The pair is 2 PASSIVE; recover starts from 4 ACTIVE.")
    assert statuses(seeded) == {2}


def test_the_pair_or_the_datacenter_is_named_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hamr.db'}"
    both = run_cli(
        "pair",
        "abort",
        "--org",
        str(uuid.uuid4()),
        "--datacenter",
        "us1",
        "--reason",
        "x",
        database_url=url,
    )
    neither = run_cli("pair", "abort", "--reason", "x", database_url=url)
    for refused in (both, neither):
        assert refused.returncode == 2
        assert "Name the pair with --org, or a datacenter with --datacenter." in refused.stderr


def test_an_unknown_datacenter_is_refused(seeded: str) -> None:
    refused = run_cli(
        "pair", "failover", "--datacenter", "mars1", "--reason", "x", database_url=seeded
    )
    assert refused.returncode == 2
    assert "'mars1' is not a known datacenter" in refused.stderr


def test_the_documented_commands_run_as_printed(tmp_path: Path) -> None:
    """docs/failover.md's datacenter block on a pair whose primary is in eu1: a dry run, the
    failover, then a held recovery completed."""
    url = sqlite_url(tmp_path / "hamr.db")
    store = open_store(url)
    try:
        admin = Admin(store)
        primary, secondary = admin.create_org("eu1"), admin.create_org("us1")
        principal = Principal(Org(primary.uuid, primary.name, "eu1"), "test", Permission.WRITE)
        admin.service.write_connection(
            principal,
            RequestedChange(
                hamr_status=HamrStatus.PASSIVE,
                is_primary=True,
                modified_by="test",
                target_org_uuid=secondary.uuid,
                target_org_name=None,
                target_org_datacenter=None,
                pointers=default_pointers(),
            ),
        )
        for line in docs.block("docs/failover.md", "Datacenter operations", 0).splitlines():
            words = shlex.split(line, comments=True)
            assert words[0] == "hamr", line
            done = run_cli(*words[1:], database_url=url)
            assert done.returncode == 0, (line, done.stderr)
        statuses = [row.after["hamr_status"] for row in admin.history(primary.uuid) if row.after]
        assert statuses == [2, 3, 4, 5, 2]
    finally:
        store.close()


def test_run_again_after_a_crash_it_picks_up_the_job_left_running(seeded: str) -> None:
    """A job whose holder is gone (here: started, never walked) is taken over by the command
    for the same operation and datacenter; another operation meanwhile is refused."""
    store = open_store(seeded)
    try:
        operations = Admin(store).service.datacenter_operations
        left = operations.start("us1", "failover", "us1 is down", org_uuid="", key_id="hamr cli")
    finally:
        store.close()
    other = run_cli("pair", "recover", "--datacenter", "us1", "--reason", "x", database_url=seeded)
    assert other.returncode == 2
    assert f"The datacenter operation {left.id} (failover of us1" in other.stderr
    picked = run_cli(
        "pair",
        "failover",
        "--datacenter",
        "us1",
        "--reason",
        "again",
        "--json",
        database_url=seeded,
    )
    assert picked.returncode == 0, picked.stderr
    assert f"picking up failover {left.id}, already running" in picked.stderr
    answer = json.loads(picked.stdout)
    assert (answer["id"], answer["done"], answer["reason"]) == (left.id, PAIRS, "us1 is down")
    assert statuses(seeded) == {4}
