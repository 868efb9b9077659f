"""`Idempotency-Key` on pair operations, as on a connection's POST, against real servers on
both backends: a retry replays the first answer (no second walk), another body or operation
under the key is a 422, a key is one request whichever route it was first sent to, a retry
while the first is in flight is a 409, a dry run claims nothing, and the answer survives a
restart and a kill -9 (it commits with the walk, or neither does)."""

from __future__ import annotations

import itertools
import json
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from hamr.api.idempotency import request_digest
from hamr.domain.errors import RequestInFlight
from hamr.domain.idempotency import IN_FLIGHT_LEASE_US, KeyedOperation
from hamr.domain.model import KeyClaim, KeyKind, StoredAnswer
from hamr.store.tables import idempotency_keys
from tests import local_http
from tests.api.test_pair_operations import PAIR, link, status
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body

KEY = "Idempotency-Key"


def keyed(
    server: ServeProcess, caller: OrgKeys, operation: str, key: str, **body: Any
) -> httpx.Response:
    """A pair operation sent with `key`; the body as bytes, so that a retry repeats them."""
    return local_http.post(
        f"{server.url}{PAIR}/{operation}",
        content=json.dumps({"reason": "drill", **body}).encode(),
        headers={**caller.headers, "Content-Type": "application/json", KEY: key},
        timeout=30,
    )


def reasons(admin: Admin, org: OrgKeys) -> list[str | None]:
    return [row.reason for row in admin.history(org.uuid)]


def refused_for_the_key(response: httpx.Response, status_code: int) -> str:
    assert response.status_code == status_code, response.text
    (error,) = response.json()["errors"]
    assert error["source"] == {"header": KEY}
    return str(error["detail"])


def age_key(admin: Admin, org: OrgKeys, key: str, by_us: int) -> None:
    """Move a stored key's claim back in time, as if it had been made `by_us` earlier."""
    table = idempotency_keys
    with admin.store.engine.begin() as db:
        moved = db.execute(
            table.update()
            .where(table.c.org_uuid == org.uuid, table.c.key == key)
            .values(created_at_us=table.c.created_at_us - by_us)
        )
        assert moved.rowcount == 1


def test_a_retry_replays_the_first_answer_without_a_second_walk(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    link(server, org, partner)
    first = keyed(server, org, "failover", "f1", reason="us1 is down")
    assert first.status_code == 200, first.text
    assert "idempotency-replayed" not in first.headers

    retry = keyed(server, org, "failover", "f1", reason="us1 is down")

    assert retry.status_code == 200, retry.text
    assert retry.headers["idempotency-replayed"] == "true"
    assert retry.content == first.content
    assert retry.headers["content-type"] == first.headers["content-type"]
    assert "etag" not in retry.headers
    assert reasons(admin, org).count("us1 is down") == 2  # one walk: FAILOVER, ACTIVE
    # The pair moving on since does not change what the retry is answered.
    assert keyed(server, org, "recover", "r1", reason="back").status_code == 200
    late = keyed(server, org, "failover", "f1", reason="us1 is down")
    assert (late.status_code, late.content) == (200, first.content)
    assert reasons(admin, org).count("us1 is down") == 2
    assert status(server, org) == 2


def test_another_body_or_another_operation_under_the_key_is_a_422(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    link(server, org, partner)
    assert keyed(server, org, "failover", "k", hold=True).status_code == 200
    before = admin.snapshot(org.uuid)

    other_body = keyed(server, org, "failover", "k")
    other_operation = keyed(server, org, "complete", "k", hold=True)

    assert "different request" in refused_for_the_key(other_body, 422)
    assert "different request" in refused_for_the_key(other_operation, 422)
    assert admin.snapshot(org.uuid) == before
    assert status(server, org) == 3


def test_a_key_is_one_request_whether_a_connection_post_or_a_pair_operation(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner)
    headers = {**org.headers, KEY: "posted"}
    posted = local_http.post(server.url + "/api/v2/hamr", json=body, headers=headers, timeout=10)
    assert posted.status_code == 200, posted.text
    before = admin.snapshot(org.uuid)

    refused_for_the_key(keyed(server, org, "failover", "posted"), 422)
    assert admin.snapshot(org.uuid) == before

    assert keyed(server, org, "failover", "operated").status_code == 200
    after = admin.snapshot(org.uuid)
    headers = {**org.headers, KEY: "operated"}
    again = local_http.post(server.url + "/api/v2/hamr", json=body, headers=headers, timeout=10)
    refused_for_the_key(again, 422)
    assert admin.snapshot(org.uuid) == after


def test_a_key_whose_first_operation_is_in_flight_is_a_409_that_walks_nothing(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    """Deterministically: the key is claimed first through the service, as a server does
    before it walks; the server's request then finds it."""
    link(server, org, partner)
    body = json.dumps({"reason": "drill"}).encode()
    claim = admin.service.idempotency_keys.claim(
        org.uuid, "busy", request_digest("POST", f"{PAIR}/failover", body)
    )
    assert isinstance(claim, KeyClaim)
    before = admin.snapshot(org.uuid)

    busy = keyed(server, org, "failover", "busy")

    assert "still being processed" in refused_for_the_key(busy, 409)
    assert admin.snapshot(org.uuid) == before
    admin.service.idempotency_keys.answer(claim, StoredAnswer(200, b'{"first":"answer"}'))
    replayed = keyed(server, org, "failover", "busy")
    assert (replayed.status_code, replayed.content) == (200, b'{"first":"answer"}')
    assert replayed.headers["idempotency-replayed"] == "true"
    assert admin.snapshot(org.uuid) == before


def test_a_refused_operation_is_refused_the_same_way_on_retry(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    """A 409 from the wrong status is the key's answer: once the pair has moved to where the
    operation starts, its retry is still the refusal, and walks nothing."""
    link(server, org, partner)
    first = keyed(server, org, "recover", "early", reason="too soon")
    assert first.status_code == 409, first.text
    assert keyed(server, org, "failover", "f").status_code == 200

    retry = keyed(server, org, "recover", "early", reason="too soon")

    assert (retry.status_code, retry.content) == (409, first.content)
    assert retry.headers["idempotency-replayed"] == "true"
    assert "too soon" not in reasons(admin, org)
    assert status(server, org) == 4


def test_a_dry_run_never_claims_its_key(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    link(server, org, partner)
    rehearsed = keyed(server, org, "failover", "rehearsed", dry_run=True)
    assert rehearsed.status_code == 200, rehearsed.text
    assert rehearsed.headers["x-hamr-dry-run"] == "true"

    real = keyed(server, org, "failover", "rehearsed")

    assert real.status_code == 200, real.text
    assert "idempotency-replayed" not in real.headers
    assert real.json()["meta"]["dry_run"] is False
    assert status(server, org) == 4
    assert reasons(admin, org).count("drill") == 2


def test_a_walk_whose_claim_a_retry_took_over_stores_nothing(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    """The answer is stored under the claim in the walk's own transaction: a holder that
    lost its claim to a retry (its lease over) stores neither walk nor answer, and the
    retry walks instead. (Driven through the service, to hold the claim still.)"""
    link(server, org, partner)
    keys = admin.service.idempotency_keys
    claim = keys.claim(org.uuid, "overtaken", "digest")
    assert isinstance(claim, KeyClaim)
    age_key(admin, org, "overtaken", IN_FLIGHT_LEASE_US + 1_000_000)
    assert isinstance(keys.claim(org.uuid, "overtaken", "digest"), KeyClaim)  # the retry's
    principal = admin.service.identify(org.api_key, KeyKind.API)
    assert principal is not None
    before = admin.snapshot(org.uuid)
    late = KeyedOperation(claim, lambda _done, _report: StoredAnswer(200, b"{}"))

    with pytest.raises(RequestInFlight):
        admin.service.pairs.run_keyed(principal, "failover", "overtaken", False, late)

    assert admin.snapshot(org.uuid) == before
    assert status(server, org) == 2


def test_the_answer_outlives_a_restart_of_the_server(
    database_url: str, admin: Admin, org: OrgKeys, partner: OrgKeys, tmp_path: Path
) -> None:
    running = ServeProcess(database_url, tmp_path / "first.log").start()
    try:
        link(running, org, partner)
        first = keyed(running, org, "failover", "restart", reason="before the restart")
        assert first.status_code == 200, first.text
    finally:
        running.stop()
    restarted = ServeProcess(database_url, tmp_path / "second.log").start()
    try:
        retry = keyed(restarted, org, "failover", "restart", reason="before the restart")
        reused = keyed(restarted, org, "recover", "restart", reason="before the restart")
    finally:
        restarted.stop()
    assert retry.status_code == 200, retry.text
    assert retry.headers["idempotency-replayed"] == "true"
    assert retry.content == first.content
    refused_for_the_key(reused, 422)
    assert reasons(admin, org).count("before the restart") == 2


@dataclass
class Sent:
    """One keyed operation of the load: what was sent, and the answer if one came."""

    caller: OrgKeys
    operation: str
    key: str
    reason: str
    answer: httpx.Response | None = None


def test_after_kill_9_mid_load_a_retry_of_each_lost_answer_walks_exactly_once(
    database_url: str, admin: Admin, tmp_path: Path
) -> None:
    """Pairs walked failover, recover, failover… by one client each, every operation under
    its own key; the server killed with SIGKILL among them. The answers lost with it (each
    pair's last operation, walked or not) are retried after a restart, as a runbook would:
    each retry is the operation's one walk or its replay, never a second walk nor a 409 for
    one that happened. (A claim whose walk died with the server is taken over once its lease
    is over: moved back in time here.)"""
    pairs = [(admin.create_org("us1"), admin.create_org("eu1")) for _ in range(6)]
    server = ServeProcess(database_url, tmp_path / "killed.log").start()
    for org, partner in pairs:
        link(server, org, partner)
    sent: list[list[Sent]] = [[] for _ in pairs]
    acknowledged = itertools.count()
    enough = threading.Event()

    def operator(index: int) -> None:
        org = pairs[index][0]
        for n in itertools.count():
            operation = ("failover", "recover")[n % 2]
            one = Sent(org, operation, f"load-{index}-{n}", f"{org.uuid} step {n}")
            sent[index].append(one)
            try:
                one.answer = keyed(server, org, operation, one.key, reason=one.reason)
            except httpx.TransportError:
                return  # the server died under this request: its answer is lost
            if one.answer.status_code != 200 or next(acknowledged) >= 40:
                enough.set()
            if one.answer.status_code != 200:
                return

    threads = [threading.Thread(target=operator, args=(i,)) for i in range(len(pairs))]
    for thread in threads:
        thread.start()
    assert enough.wait(timeout=60), "the operators did not get 40 operations acknowledged"
    server.stop(signal.SIGKILL)
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert server.process is not None
    assert server.process.returncode == -signal.SIGKILL
    for walked in sent:
        assert walked[-1].answer is None, walked[-1]  # lost with the server
        assert all(one.answer is not None and one.answer.status_code == 200 for one in walked[:-1])

    restarted = ServeProcess(database_url, tmp_path / "restarted.log").start()
    try:
        for walked in sent:
            lost = walked[-1]
            retry = retried(restarted, lost)
            if retry.status_code == 409:  # its claim died with the server, before its walk
                assert "still being processed" in refused_for_the_key(retry, 409)
                age_key(admin, lost.caller, lost.key, IN_FLIGHT_LEASE_US + 1_000_000)
                retry = retried(restarted, lost)
            assert retry.status_code == 200, (lost, retry.text)
            final = 4 if lost.operation == "failover" else 2
            assert status(restarted, lost.caller) == final
            for answered in walked[:-1][-1:]:  # the last acknowledged one, again
                replayed = retried(restarted, answered)
                assert replayed.status_code == 200, (answered, replayed.text)
                assert replayed.headers["idempotency-replayed"] == "true"
                assert answered.answer is not None
                assert replayed.content == answered.answer.content
    finally:
        restarted.stop()

    for walked in sent:  # every operation walked exactly once: two rows with its reason
        org = walked[0].caller
        assert reasons(admin, org)[1:] == [r for one in walked for r in [one.reason] * 2]


def retried(server: ServeProcess, one: Sent) -> httpx.Response:
    return keyed(server, one.caller, one.operation, one.key, reason=one.reason)
