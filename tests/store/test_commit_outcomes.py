"""What a write answers when PostgreSQL cannot promise it, as during a failover: a primary
turned read-only is a 503 that changed nothing; a COMMIT whose wait for a synchronous standby
is cancelled (it succeeds with only a warning) or whose connection is cut while it waits is a
503 saying the write may have been stored, never a 200; and a retry under the same
Idempotency-Key stores it once. One PostgreSQL server of the module's own, whose settings the
tests change (`synchronous_standby_names` naming a standby that never comes makes every COMMIT
wait, as it waits for a slow standby)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
import pytest

from tests import local_http
from tests.conftest import OrgKeys, ServeProcess, connection_body, free_port
from tests.postgres import PostgresServer, binaries_or_skip
from tests.store.test_postgres_processes import make_orgs

PATH = "/api/v2/hamr"


@pytest.fixture(scope="module")
def primary() -> Iterator[PostgresServer]:
    server = PostgresServer(binaries_or_skip(), free_port()).init()
    server.create_database()
    yield server
    server.destroy()


@pytest.fixture(scope="module")
def served(
    primary: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServeProcess, OrgKeys, OrgKeys]]:
    log = tmp_path_factory.mktemp("commit_outcomes") / "server.log"
    server = ServeProcess(primary.url, log).start()
    (org,) = make_orgs(primary.url, "us1", 1)
    (partner,) = make_orgs(primary.url, "eu1", 1)
    yield server, org, partner
    server.stop()


def alter_system(primary: PostgresServer, setting: str, value: str | None) -> None:
    with psycopg.connect(primary.url, autocommit=True) as admin:
        admin.execute("SET default_transaction_read_only = off")
        if value is None:
            admin.execute(f"ALTER SYSTEM RESET {setting}")
        else:
            admin.execute(f"ALTER SYSTEM SET {setting} = '{value}'")
        admin.execute("SELECT pg_reload_conf()")
    time.sleep(0.3)  # every backend rereads its configuration


@contextmanager
def system_setting(primary: PostgresServer, setting: str, value: str) -> Iterator[None]:
    alter_system(primary, setting, value)
    try:
        yield
    finally:
        alter_system(primary, setting, None)


def stored_writers(primary: PostgresServer) -> list[str]:
    with psycopg.connect(primary.url, autocommit=True) as reader:
        rows = reader.execute("SELECT modified_by FROM history ORDER BY id").fetchall()
    return [who for (who,) in rows]


def post(
    server: ServeProcess, org: OrgKeys, partner: OrgKeys, who: str, key: str | None = None
) -> httpx.Response:
    body = connection_body(org, partner, modified_by=who)
    headers = {**org.headers, "Idempotency-Key": key} if key else org.headers
    return local_http.post(server.url + PATH, json=body, headers=headers, timeout=60)


def backend_waiting_for_a_standby(primary: PostgresServer) -> int:
    deadline = time.monotonic() + 20
    with psycopg.connect(primary.url, autocommit=True) as admin:
        while time.monotonic() < deadline:
            row = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep'"
            ).fetchone()
            if row is not None:
                return int(row[0])
            time.sleep(0.05)
    raise AssertionError("no COMMIT waited for the synchronous standby")


def end_wait(primary: PostgresServer, how: str, pid: int) -> None:
    with psycopg.connect(primary.url, autocommit=True) as admin:
        admin.execute(f"SELECT {how}(%s)", (pid,))


def outcome_unknown_count(server: ServeProcess) -> float:
    for line in local_http.get(server.url + "/metrics").text.splitlines():
        if line.startswith("hamr_writes_outcome_unknown_total "):
            return float(line.split()[1])
    raise AssertionError("hamr_writes_outcome_unknown_total is not exported")


def the_503(answer: httpx.Response) -> str:
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "1"
    (error,) = answer.json()["errors"]
    return str(error["detail"])


def test_a_primary_turned_read_only_is_a_503_that_changed_nothing(
    primary: PostgresServer, served: tuple[ServeProcess, OrgKeys, OrgKeys]
) -> None:
    server, org, partner = served
    before = stored_writers(primary)
    with system_setting(primary, "default_transaction_read_only", "on"):
        detail = the_503(post(server, org, partner, "read-only@example.com", "read-only-1"))
        assert "read-only" in detail
        assert "nothing was changed" in detail
    assert stored_writers(primary) == before
    # The refused write claimed nothing: the same Idempotency-Key now writes.
    assert post(server, org, partner, "read-only@example.com", "read-only-1").status_code == 200


@pytest.mark.parametrize("end_the_wait", ["pg_cancel_backend", "pg_terminate_backend"])
def test_a_commit_whose_standby_wait_is_cut_short_is_a_503_saying_it_may_be_stored(
    primary: PostgresServer, served: tuple[ServeProcess, OrgKeys, OrgKeys], end_the_wait: str
) -> None:
    server, org, partner = served
    who = f"{end_the_wait}@example.com"
    unknown_before = outcome_unknown_count(server)
    with (
        system_setting(primary, "synchronous_standby_names", "standby_that_never_comes"),
        ThreadPoolExecutor(1) as pool,
    ):
        answer: Future[httpx.Response] = pool.submit(post, server, org, partner, who)
        waiting = backend_waiting_for_a_standby(primary)
        time.sleep(0.5)
        assert not answer.done(), "a write was answered before its COMMIT was confirmed"
        end_wait(primary, end_the_wait, waiting)
        detail = the_503(answer.result(timeout=30))
    assert "may" in detail
    assert "Idempotency-Key" in detail
    assert outcome_unknown_count(server) == unknown_before + 1
    assert stored_writers(primary).count(who) == 1  # committed on the primary after all


def test_a_keyed_write_whose_commits_are_cut_short_and_retried_is_stored_once(
    primary: PostgresServer, served: tuple[ServeProcess, OrgKeys, OrgKeys]
) -> None:
    server, org, partner = served
    who, key = "keyed-retry@example.com", "keyed-retry-1"
    with (
        system_setting(primary, "synchronous_standby_names", "standby_that_never_comes"),
        ThreadPoolExecutor(1) as pool,
    ):
        answer: Future[httpx.Response] = pool.submit(post, server, org, partner, who, key)
        while not answer.done():  # cut every COMMIT short: the claim's, its release's, ...
            end_wait(primary, "pg_cancel_backend", backend_waiting_for_a_standby(primary))
            time.sleep(0.2)
        the_503(answer.result())
    retry = post(server, org, partner, who, key)
    assert retry.status_code == 200, retry.text
    assert stored_writers(primary).count(who) <= 1
    again = post(server, org, partner, who, key)
    assert again.headers["idempotency-replayed"] == "true"
    assert stored_writers(primary).count(who) == 1


def database_read_only(primary: PostgresServer, database: str, on: bool) -> None:
    """A database-level default, which a session takes when it connects and keeps: sessions
    opened while it is on stay read-only after it is reset, as connections to a demoted
    primary do, while new ones can write, as connections to the promoted standby can."""
    with psycopg.connect(primary.url, autocommit=True) as admin:
        value = "SET default_transaction_read_only = on" if on else "RESET ALL"
        admin.execute(f"ALTER DATABASE {database} {value}")


def hamr_sessions(primary: PostgresServer, database: str) -> int:
    with psycopg.connect(primary.url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_after_a_promotion_no_pooled_connection_to_the_old_primary_is_used_again(
    primary: PostgresServer, tmp_path: Path
) -> None:
    database = f"promotion_{uuid.uuid4().hex[:8]}"
    primary.create_database(database)
    url = primary.url_for(database)
    org, *others = make_orgs(url, "us1", 12)
    (partner,) = make_orgs(url, "eu1", 1)
    database_read_only(primary, database, on=True)
    server = ServeProcess(url, tmp_path / "server.log").start()
    try:
        with ThreadPoolExecutor(8) as readers:  # fill the pool: reads of eight orgs at once
            list(
                readers.map(lambda o: local_http.get(server.url + PATH, headers=o.headers), others)
            )
        pooled = hamr_sessions(primary, database)
        assert pooled >= 2, f"the reads opened {pooled} connection(s); the test needs a pool"
        database_read_only(primary, database, on=False)  # the promotion
        detail = the_503(post(server, org, partner, "first-after-promotion@example.com"))
        assert "read-only" in detail
        # Every later write finds the new primary: none is sent down an old pooled connection.
        for n in range(pooled + 2):
            answer = post(server, org, partner, f"after-promotion-{n}@example.com")
            assert answer.status_code == 200, answer.text
    finally:
        server.stop()
