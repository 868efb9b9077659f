"""Mutation testing as a habit (issue 26): `python3 -m tests.mutants [NAME ...]` applies each
one-line mutation below, in turn, to a copy of the committed src/ (never the working tree),
runs the tests that cover it against that copy, and prints caught or survived. A promise whose
mutation survives has no test that can fail.

`--list` prints the names; `--keep-going` runs every covering test even after one failed."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutant:
    """One line of src/ changed: `old` (which must occur exactly once) becomes `new`."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


PROMISES = "tests/test_promises.py"
PRIMARY_DATACENTER = "tests/store/test_primary_datacenter.py"

MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "a dry run claims its Idempotency-Key",
        "src/hamr/api/routes.py",
        "    if key is None or dry_run:\n",
        "    if key is None:\n",
        (f"{PROMISES}::test_a_dry_run_with_a_key_leaves_the_key_to_the_real_post",),
    ),
    Mutant(
        "history recorded at the real clock's time",
        "src/hamr/store/repository.py",
        '"recorded_at_us": c.recorded_at_us,',
        '"recorded_at_us": __import__("time").time_ns() // 1000,',
        (
            f"{PROMISES}::test_history_rows_are_recorded_at_the_virtual_clocks_time",
            "tests/test_pytest_plugin.py",
        ),
    ),
    Mutant(
        "a reset keeps the rate-limit windows",
        "src/hamr/emulator/routes.py",
        "        seeded = await anyio.to_thread.run_sync(emulator.reset, asked.seed)\n"
        "        state.limiter.forget()\n",
        "        seeded = await anyio.to_thread.run_sync(emulator.reset, asked.seed)\n",
        (f"{PROMISES}::test_a_reset_starts_the_rate_limit_windows_afresh",),
    ),
    Mutant(
        "a reset goes ahead of the writes in flight",
        "src/hamr/emulator/routes.py",
        "    async with state.write_gate.alone():  # writes in flight are answered first\n"
        "        seeded",
        "    if True:\n        seeded",
        ("tests/api/test_reset_under_writes.py",),
    ),
    Mutant(
        "a write whose org another process deleted is a 500",
        "src/hamr/store/outage.py",
        "    if is_vanished_reference(error):\n",
        "    if False:\n",
        ("tests/api/test_reset_under_writes.py",),
    ),
    Mutant(
        "a POST ignores the pair's previous modified_at",
        "src/hamr/domain/pairing.py",
        "modified_at = next_modified_at(now_us, base.modified_at_us if base else None)",
        "modified_at = next_modified_at(now_us, None)",
        (f"{PROMISES}::test_modified_at_grows_after_the_clock_is_set_behind_the_pairs_last_write",),
    ),
    Mutant(
        "a pair operation ignores the pair's previous modified_at",
        "src/hamr/usecases/pair_operations.py",
        "modified_at_us=next_modified_at(now, link.modified_at_us),",
        "modified_at_us=next_modified_at(now, None),",
        (f"{PROMISES}::test_modified_at_grows_after_the_clock_is_set_behind_the_pairs_last_write",),
    ),
    Mutant(
        "a pair operation does not re-read the pair under its locks",
        "src/hamr/usecases/pair_operations.py",
        "                repository.lock_orgs(link.members)\n"
        "                link = repository.links_of([caller.uuid]).get(caller.uuid)\n",
        "                repository.lock_orgs(link.members)\n",
        (f"{PROMISES}::test_of_two_failovers_released_together_exactly_one_wins",),
    ),
    Mutant(
        "SQLite transactions begin deferred, not IMMEDIATE",
        "src/hamr/store/engine.py",
        'connection.exec_driver_sql("BEGIN IMMEDIATE")',
        'connection.exec_driver_sql("BEGIN")',
        (f"{PROMISES}::test_of_two_failovers_released_together_exactly_one_wins",),
    ),
    Mutant(
        "generated request ids in upper case",
        "src/hamr/server/telemetry.py",
        'return f"{random.getrandbits(128):032x}"',
        'return f"{random.getrandbits(128):032X}"',
        ("tests/ops/test_logs.py::test_request_and_change_lines",),
    ),
    Mutant(
        "a replay repeats a warning",
        "src/hamr/api/idempotency.py",
        '    headers = {REPLAYED: "true"}\n',
        '    headers = {REPLAYED: "true", "X-Hamr-Warning": "replayed"}\n',
        (f"{PROMISES}::test_a_replay_carries_the_first_etag_but_not_its_warning",),
    ),
    # Issue 25's promises.
    Mutant(
        "read verbs create a missing database",
        "src/hamr/cli/support.py",
        "    if not create:\n",
        "    if False:\n",
        (
            "tests/test_cli.py::"
            "test_verbs_on_a_missing_database_name_it_say_how_to_make_one_and_create_nothing",
        ),
    ),
    Mutant(
        "an operator's mistake is a traceback",
        "src/hamr/cli/main.py",
        "            if message is None:\n",
        "            if True:\n",
        ("tests/test_cli.py::test_every_verb_given_bad_input_says_so_in_one_line_and_exits_2",),
    ),
    # Issue 26's fixes.
    Mutant(
        "a trickled body is never timed",
        "src/hamr/server/http_protocol.py",
        "        elif self._body_timer is None:  # a request's body is unfinished: time the rest\n",
        "        elif False:\n",
        (
            "tests/ops/test_body_timeout.py::test_a_trickled_body_gets_a_408_and_its_connection_closed",
        ),
    ),
    Mutant(
        "a no-cache GET reads the cache",
        "src/hamr/api/routes.py",
        "    connection = None if fresh else service.cached_connection(principal.org)\n",
        "    connection = service.cached_connection(principal.org)\n",
        (
            "tests/store/test_read_your_writes.py::"
            "test_a_no_cache_get_through_another_process_sees_the_write_every_time",
        ),
    ),
    Mutant(
        "a pair operation ignores its Idempotency-Key",
        "src/hamr/api/pair_routes.py",
        "    if key is None or _dry_run(body):\n",
        "    if True:\n",
        (
            "tests/api/test_pair_idempotency.py::"
            "test_a_retry_replays_the_first_answer_without_a_second_walk",
        ),
    ),
    Mutant(
        "a wrong admin token is not counted",
        "src/hamr/emulator/admin_auth.py",
        "    await count(request.scope, state, UNAUTHENTICATED, client)\n",
        "",
        (
            "tests/api/test_admin_hardening.py::"
            "test_guessing_the_admin_token_meets_a_429_and_the_right_token_is_never_counted",
        ),
    ),
    Mutant(
        "a reason on the page is not isolated",
        "src/hamr/api/ui/templates/history.html",
        "<td><bdi>{{ row.reason }}</bdi></td>",
        "<td>{{ row.reason }}</td>",
        (
            "tests/ui/test_page_hardening.py::"
            "test_text_people_wrote_is_isolated_in_bdi_so_an_override_cannot_reorder_a_cell",
        ),
    ),
    Mutant(
        "a COMMIT confirmed with a replication warning is a 200",
        "src/hamr/store/repository.py",
        "        commit_confirmed(self._connection, self._transaction)\n",
        "        self._transaction.commit()\n",
        ("tests/store/test_commit_outcomes.py",),
    ),
    Mutant(
        "a write to a frozen PostgreSQL waits for it",
        "src/hamr/bootstrap.py",
        "settings.write_timeout_seconds if postgres else None",
        "None",
        (
            "tests/store/test_postgres_processes.py::"
            "test_a_hung_database_stalls_only_the_requests_that_need_it",
        ),
    ),
    Mutant(
        "reads come from the replica however far behind it is",
        "src/hamr/usecases/read_routing.py",
        "            return self._local if fresh else self._leader\n",
        "            return self._local\n",
        ("tests/store/test_read_replica.py",),
    ),
    Mutant(
        "the replica is not served past the bound while Patroni sees the consensus store",
        "src/hamr/usecases/read_routing.py",
        "        if fresh or (self._consensus_seen and staleness is not None):\n",
        "        if fresh:\n",
        (
            "tests/multisite/test_site_loss.py::"
            "test_losing_the_leaders_site_loses_no_acknowledged_write",
        ),
    ),
    Mutant(
        "a write to a read-only primary is a 500",
        "src/hamr/store/outage.py",
        "    if is_read_only(error):\n",
        "    if False:\n",
        ("tests/store/test_commit_outcomes.py",),
    ),
    Mutant(
        "the pool is kept after a promotion",
        "src/hamr/store/repository.py",
        "                self._engine.dispose(close=False)\n",
        "                pass\n",
        ("tests/store/test_commit_outcomes.py",),
    ),
    Mutant(
        "a state document is parsed by an unbounded parser",
        "src/hamr/emulator/routes.py",
        'document = json_document(raw, "the document GET /_hamr/state gives")',
        "document = __import__('json').loads(raw)",
        ("tests/api/test_admin_hardening.py",),
    ),
    Mutant(
        "a state document's repeated members are taken last-wins",
        "src/hamr/emulator/routes.py",
        "    refuse_duplicate_members(raw)\n",
        "    pass\n",
        ("tests/api/test_admin_hardening.py",),
    ),
    Mutant(
        "the clock moves past where hamr can write the time",
        "src/hamr/emulator/clock.py",
        '            self._check(self._source() + offset, f"moving it by {seconds:g} seconds")\n',
        "            pass\n",
        ("tests/api/test_admin_hardening.py",),
    ),
    Mutant(
        "a /ui form of too many fields is a 500",
        "src/hamr/api/body.py",
        '        parsed = parse_qs(body.decode("utf-8", "replace"), max_num_fields=max_fields)\n'
        "    except ValueError:\n",
        '        parsed = parse_qs(body.decode("utf-8", "replace"), max_num_fields=max_fields)\n'
        "    except KeyError:\n",
        ("tests/ui/test_page_hardening.py",),
    ),
    Mutant(
        "heavy reads give up behind each other",
        "src/hamr/usecases/storage_reads.py",
        "            if self._finished == finished:\n",
        "            if True:\n",
        ("tests/api/test_heavy_reads.py",),
    ),
    Mutant(
        "a wrong admin token is no auth failure in the metrics",
        "src/hamr/emulator/admin_auth.py",
        "        state.metrics.auth_failed(ADMIN_HEADER)\n",
        "        pass\n",
        (
            "tests/api/test_admin_hardening.py::"
            "test_guessing_the_admin_token_meets_a_429_and_the_right_token_is_never_counted",
        ),
    ),
    Mutant(
        "a write stores the creator's datacenter as the primary one",
        "src/hamr/store/repository.py",
        "            link.first_is_primary, link.first.datacenter, link.second.datacenter\n",
        "            True, link.first.datacenter, link.second.datacenter\n",
        (PRIMARY_DATACENTER,),
    ),
    Mutant(
        "a state load keeps no primary side but the creator's",
        "src/hamr/store/state_dump.py",
        '                    row["org_is_primary"],\n',
        "                    True,\n",
        (f"{PRIMARY_DATACENTER}::test_a_state_leaves_it_out_and_a_load_derives_it",),
    ),
    Mutant(
        "a datacenter's batch index holds no id to seek and order by",
        "src/hamr/store/migrations/versions/0008_primary_datacenter.py",
        '_BY_ID = ("primary_datacenter", "id")',
        '_BY_ID = ("primary_datacenter",)',
        (f"{PRIMARY_DATACENTER}::test_a_batch_of_a_datacenters_pairs_seeks_its_index",),
    ),
    Mutant(
        "a datacenter's counts have no index holding the status",
        "src/hamr/store/migrations/versions/0008_primary_datacenter.py",
        '_BY_STATUS = ("primary_datacenter", "hamr_status")',
        '_BY_STATUS = ("primary_datacenter",)',
        (f"{PRIMARY_DATACENTER}::test_a_datacenters_counts_read_the_index_alone",),
    ),
    Mutant(
        "the demo links its pair at rest first, then back to ONBOARDING",
        "src/hamr/usecases/demo.py",
        "DDR_LINK = (HamrStatus.ONBOARDING, HamrStatus.PASSIVE)",
        "DDR_LINK = (HamrStatus.PASSIVE, HamrStatus.ONBOARDING)",
        ("tests/test_cli.py::test_serve_demo_prints_keys_curl_and_python_that_work",),
    ),
    Mutant(
        "a pair operation answers the pair as it stood before the walk",
        "src/hamr/usecases/pair_operations.py",
        "            as_it_stands = self._report(repository, caller) if dry_run else None\n",
        "            as_it_stands = self._report(repository, caller)\n",
        (
            "tests/api/test_pair_operations.py::"
            "test_failover_walks_to_active_and_recover_back_with_reasons_in_history",
        ),
    ),
    Mutant(
        "a process's SQLite writes wait in SQLite's busy handler",
        "src/hamr/store/sql.py",
        'self._one_writer = threading.RLock() if engine.dialect.name == "sqlite" else None',
        "self._one_writer = None",
        ("tests/store/test_one_writer.py",),
    ),
    Mutant(
        "the walker tells a batch kept waiting as the database away",
        "src/hamr/server/datacenter_runner.py",
        '            logger.warning("a datacenter operation waits for the database: %s", '
        "error.detail)\n",
        "            outage.found_away(error.detail)\n",
        (
            "tests/api/test_datacenter_failover.py::"
            "test_a_batch_kept_waiting_by_a_lock_is_tried_again_and_told_as_a_wait_not_an_outage",
        ),
    ),
)


def committed_src(into: Path) -> None:
    """HEAD's src/ into `into` (what is committed, whatever the working tree holds now)."""
    archive = subprocess.run(
        ["git", "archive", "HEAD", "src"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")


def mutate(copy: Path, mutant: Mutant) -> None:
    """Apply the mutant to the copy; an `old` not found exactly once is the list's mistake."""
    target = copy / mutant.path
    text = target.read_text()
    found = text.count(mutant.old)
    if found != 1:
        raise SystemExit(f"{mutant.name}: {mutant.path} holds its old text {found} times")
    target.write_text(text.replace(mutant.old, mutant.new))


def failures(copy: Path, mutant: Mutant, keep_going: bool) -> list[str]:
    """The covering tests that fail against the mutated copy (pytest's FAILED lines; an
    ERROR, a test that could not even start, is no catch but a broken run, and raises)."""
    env = {**os.environ, "PYTHONPATH": str(copy / "src")}
    # In one process (`-n 0`): under xdist, `-x` ends the run as interrupted (exit 2).
    command = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", "-n", "0"]
    command += [*mutant.tests] if keep_going else ["-x", *mutant.tests]
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    lines = run.stdout.splitlines()
    failed = [line for line in lines if line.startswith("FAILED ")]
    if run.returncode not in (0, 1) or (run.returncode == 1 and not failed):
        raise SystemExit(f"{mutant.name}: pytest could not run the tests\n{run.stdout[-3000:]}")
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m tests.mutants", description=__doc__)
    parser.add_argument("names", nargs="*", help="run only mutants whose name contains these")
    parser.add_argument("--list", action="store_true", help="print the mutants' names")
    parser.add_argument("--keep-going", action="store_true", help="no -x for pytest")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.names or any(n in m.name for n in args.names)]
    if args.list:
        print("\n".join(m.name for m in chosen))
        return 0
    survivors = []
    for mutant in chosen:
        with tempfile.TemporaryDirectory(prefix="hamr-mutant-") as temporary:
            copy = Path(temporary)
            committed_src(copy)
            mutate(copy, mutant)
            started = time.monotonic()
            failed = failures(copy, mutant, args.keep_going)
        took = time.monotonic() - started
        print(f"{'caught  ' if failed else 'SURVIVED'} {mutant.name} ({took:.0f} s)", flush=True)
        for line in failed:
            print(f"    {line}", flush=True)
        if not failed:
            survivors.append(mutant.name)
    print(f"{len(chosen) - len(survivors)} of {len(chosen)} caught")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
