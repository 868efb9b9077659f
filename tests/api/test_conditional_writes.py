"""Conditional and idempotent writes on `POST /api/v2/hamr`, against a real server on a real
socket (both backends): strong ETags on GET and POST, `If-Match` / `If-None-Match` checked in
the write's transaction, `Idempotency-Key` (a retry gets the first answer, on any server of
the database, for 24 hours), and `?dry_run=true` (what would be stored, storing nothing).
Every refusal is checked to change nothing."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from datadog_api_client.exceptions import ApiException
from starlette.responses import Response

from hamr.api.idempotency import answer_once, request_digest
from hamr.api.wire import WireFormat
from hamr.domain.errors import Unavailable
from hamr.domain.idempotency import IN_FLIGHT_LEASE_US, KEY_TTL_US, PURGE_EVERY_US
from hamr.domain.model import KeyClaim, StoredAnswer
from hamr.domain.rules import DEFAULT_DATACENTERS
from hamr.store.tables import idempotency_keys
from hamr.usecases.service import HamrService
from tests import local_http
from tests.api.test_official_client import request_for
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body, unknown_org

PATH = "/api/v2/hamr"
LANE = {"Accept-Encoding": "identity"}  # answered by the fast lane in front of the app
APP = {"Accept-Encoding": "gzip"}  # answered by the app's route (the official client asks so)
KEY = "Idempotency-Key"


def now_us() -> int:
    return time.time_ns() // 1000


def encoded(body: dict[str, Any]) -> bytes:
    return json.dumps(body).encode()


def post(
    http: httpx.Client,
    caller: OrgKeys,
    body: dict[str, Any] | bytes,
    params: dict[str, str] | None = None,
    **headers: str,
) -> httpx.Response:
    content = body if isinstance(body, bytes) else encoded(body)
    return http.post(
        PATH,
        content=content,
        params=params,
        headers={
            **caller.headers,
            "Content-Type": "application/json",
            **{name.replace("_", "-"): value for name, value in headers.items()},
        },
    )


def etag(http: httpx.Client, caller: OrgKeys, lane: dict[str, str] = LANE) -> str:
    read = http.get(PATH, headers={**caller.headers, **lane})
    assert read.status_code == 200, read.text
    return read.headers["etag"]


def the_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    (item,) = response.json()["errors"]
    assert item["status"] == str(status)
    return item  # type: ignore[no-any-return]


def age_key(admin: Admin, org: OrgKeys, key: str, created_at_us: int) -> None:
    """Move a stored key's creation time, as if it had been claimed then."""
    with admin.store.engine.begin() as db:
        moved = db.execute(
            idempotency_keys.update()
            .where(idempotency_keys.c.org_uuid == org.uuid, idempotency_keys.c.key == key)
            .values(created_at_us=created_at_us)
        )
        assert moved.rowcount == 1


@pytest.fixture(scope="module")
def second_server(
    database_url: str, admin: Admin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    """Another server on the suite's database: what two processes must agree on."""
    running = ServeProcess(database_url, tmp_path_factory.mktemp("log") / "second.log").start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def enforcing(
    database_url: str, admin: Admin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    log = tmp_path_factory.mktemp("log") / "enforce.log"
    running = ServeProcess(database_url, log, "--transitions", "enforce").start()
    yield running
    running.stop()


# -- ETags ----------------------------------------------------------------------------------


def test_get_on_both_lanes_and_post_carry_one_strong_etag_of_the_document(
    http: httpx.Client, second_server: ServeProcess, org: OrgKeys, partner: OrgKeys
) -> None:
    written = post(http, org, connection_body(org, partner))
    assert written.status_code == 200, written.text
    tag = written.headers["etag"]
    assert tag.startswith('"')
    assert tag.endswith('"')
    assert not tag.startswith("W/")

    plain = http.get(PATH, headers={**org.headers, **LANE})
    with http.stream("GET", PATH, headers={**org.headers, **APP}) as compressed:
        compressed.read()
    head = http.head(PATH, headers={**org.headers, **LANE})
    assert "content-encoding" not in plain.headers
    assert compressed.headers["content-encoding"] == "gzip"
    assert plain.headers["etag"] == compressed.headers["etag"] == head.headers["etag"] == tag
    assert plain.content == written.content
    # Equal documents, equal ETags: another process serving the same document agrees.
    with local_http.client(base_url=second_server.url, timeout=10) as other:
        assert etag(other, org) == etag(other, org, APP) == tag


def test_the_etag_changes_when_the_partner_writes_the_pair(
    http: httpx.Client, org: OrgKeys, partner: OrgKeys
) -> None:
    """Both orgs of a linked pair read one connection: a write by either changes what the
    other GETs, and so its ETag, on both lanes."""
    assert post(http, org, connection_body(org, partner, hamr_status=1)).status_code == 200
    before = etag(http, org)
    by_partner = post(
        http,
        partner,
        connection_body(partner, org, hamr_status=2, is_primary=False),
        If_Match=etag(http, partner),
    )
    assert by_partner.status_code == 200, by_partner.text

    after_lane, after_app = etag(http, org, LANE), etag(http, org, APP)
    assert after_lane == after_app != before
    assert by_partner.headers["etag"] == etag(http, partner) != after_lane  # its own side
    stale = post(http, org, connection_body(org, partner, hamr_status=3), If_Match=before)
    assert the_error(stale, 412)["source"] == {"header": "If-Match"}


# -- If-Match and If-None-Match ---------------------------------------------------------------


def test_if_match_with_the_current_etag_writes(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    assert post(http, org, connection_body(org, partner, hamr_status=1)).status_code == 200
    current = etag(http, org)

    written = post(http, org, connection_body(org, partner, hamr_status=2), If_Match=current)

    assert written.status_code == 200, written.text
    assert written.headers["etag"] != current
    assert written.headers["etag"] == etag(http, org)
    assert len(admin.history(org.uuid)) == 2


@pytest.mark.parametrize(
    "if_match",
    ['"0123456789abcdef0123456789abcdef"', "W/{current}", "{current_unquoted}", '"", W/"x"'],
    ids=["stale", "weak", "unquoted", "list"],
)
def test_if_match_not_naming_the_current_etag_is_a_412_that_changes_nothing(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys, if_match: str
) -> None:
    """If-Match compares strongly: a weak tag never matches, nor does anything else but the
    current ETag, quoted as it was sent."""
    assert post(http, org, connection_body(org, partner, hamr_status=1)).status_code == 200
    current = etag(http, org)
    sent = if_match.format(current=current, current_unquoted=current.strip('"'))
    before = admin.snapshot(org.uuid)

    refused = post(http, org, connection_body(org, partner, hamr_status=2), If_Match=sent)

    error = the_error(refused, 412)
    assert error["title"] == "Precondition Failed"
    assert error["source"] == {"header": "If-Match"}
    assert current in error["detail"]
    assert "GET /api/v2/hamr again" in error["detail"]
    assert "etag" not in refused.headers
    assert admin.snapshot(org.uuid) == before
    assert etag(http, org) == current


def test_if_match_among_several_tags_or_star_matches_an_existing_connection(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    assert post(http, org, connection_body(org, partner, hamr_status=1)).status_code == 200
    listed = f'"stale", {etag(http, org)}'
    assert post(http, org, connection_body(org, partner), If_Match=listed).status_code == 200
    star = post(http, org, connection_body(org, partner, hamr_status=3), If_Match="*")
    assert star.status_code == 200, star.text
    assert len(admin.history(org.uuid)) == 3


@pytest.mark.parametrize("if_match", ["*", '"0123456789abcdef0123456789abcdef"'])
def test_if_match_without_a_connection_is_a_412_that_creates_nothing(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys, if_match: str
) -> None:
    refused = post(http, org, connection_body(org, partner), If_Match=if_match)

    error = the_error(refused, 412)
    assert error["source"] == {"header": "If-Match"}
    assert "no HAMR connection yet" in error["detail"]
    assert admin.snapshot(org.uuid) == (None, 0)
    assert admin.snapshot(partner.uuid) == (None, 0)


def test_if_none_match_star_creates_a_connection_but_never_overwrites_one(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    created = post(http, org, connection_body(org, partner, hamr_status=1), If_None_Match="*")
    assert created.status_code == 200, created.text
    before = admin.snapshot(org.uuid)

    again = post(http, org, connection_body(org, partner, hamr_status=2), If_None_Match="*")

    error = the_error(again, 412)
    assert error["source"] == {"header": "If-None-Match"}
    assert created.headers["etag"] in error["detail"]
    assert admin.snapshot(org.uuid) == before
    # The partner reads the same connection: it cannot create one either.
    by_partner = post(
        http, partner, connection_body(partner, org, is_primary=False), If_None_Match="*"
    )
    assert the_error(by_partner, 412)["source"] == {"header": "If-None-Match"}
    assert admin.snapshot(org.uuid) == before


def test_of_writers_holding_one_etag_exactly_one_wins_and_others_are_not_held_up(
    http: httpx.Client, server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    """The check is made in the write's transaction: of concurrent POSTs with the same
    If-Match, one writes and the rest get 412 against the ETag it made. Unconditional writes
    by other orgs, batched with them, all succeed: a failed precondition fails only its own
    write."""
    assert post(http, org, connection_body(org, partner, hamr_status=1)).status_code == 200
    current = etag(http, org)
    others = [admin.create_org("us1") for _ in range(6)]
    elsewhere = unknown_org()

    def conditional(n: int) -> httpx.Response:
        with local_http.client(base_url=server.url, timeout=30) as client:
            body = connection_body(org, partner, modified_by=f"writer-{n}@example.com")
            return post(client, org, body, If_Match=current)

    def unconditional(other: OrgKeys) -> httpx.Response:
        with local_http.client(base_url=server.url, timeout=30) as client:
            return post(client, other, connection_body(other, elsewhere))

    with ThreadPoolExecutor(max_workers=16) as pool:
        racing = [pool.submit(conditional, n) for n in range(10)]
        bystanders = [pool.submit(unconditional, other) for other in others]
        answers = [f.result() for f in racing]
        assert all(f.result().status_code == 200 for f in bystanders)

    (winner,) = [a for a in answers if a.status_code == 200]
    losers = [a for a in answers if a.status_code != 200]
    assert len(losers) == 9
    for loser in losers:
        assert winner.headers["etag"] in the_error(loser, 412)["detail"]
    assert etag(http, org) == winner.headers["etag"]
    assert len(admin.history(org.uuid)) == 2


# -- Idempotency-Key ------------------------------------------------------------------------


def test_a_retry_with_the_same_key_gets_the_first_answer_and_writes_nothing(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    body = encoded(connection_body(org, partner, hamr_status=1))
    first = post(http, org, body, Idempotency_Key='"8e03978e-40d5-43e8-bc93-6894a57f9324"')
    assert first.status_code == 200, first.text
    assert "idempotency-replayed" not in first.headers
    after_first = admin.snapshot(org.uuid)

    retry = post(http, org, body, Idempotency_Key='"8e03978e-40d5-43e8-bc93-6894a57f9324"')

    assert retry.status_code == 200
    assert retry.headers["idempotency-replayed"] == "true"
    assert retry.content == first.content
    for header in ("etag", "content-type", "content-length"):
        assert retry.headers[header] == first.headers[header]
    assert admin.snapshot(org.uuid) == after_first
    # A write between the two does not change what the retry is answered.
    changed = post(http, org, connection_body(org, partner, hamr_status=2))
    assert changed.status_code == 200
    late = post(http, org, body, Idempotency_Key='"8e03978e-40d5-43e8-bc93-6894a57f9324"')
    assert late.content == first.content
    assert late.headers["idempotency-replayed"] == "true"
    assert len(admin.history(org.uuid)) == 2


def test_keys_belong_to_their_org(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    elsewhere = unknown_org("us5")
    for caller in (org, partner):
        answered = post(http, caller, connection_body(caller, elsewhere), Idempotency_Key="k1")
        assert answered.status_code == 200, answered.text
        assert "idempotency-replayed" not in answered.headers
    assert len(admin.history(org.uuid)) == len(admin.history(partner.uuid)) == 1


def test_the_same_key_with_another_body_is_a_422_that_changes_nothing(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    assert post(http, org, connection_body(org, partner), Idempotency_Key="k").status_code == 200
    before = admin.snapshot(org.uuid)

    other = post(http, org, connection_body(org, partner, hamr_status=3), Idempotency_Key="k")

    error = the_error(other, 422)
    assert error["title"] == "Unprocessable Content"
    assert error["source"] == {"header": KEY}
    assert "different request" in error["detail"]
    assert admin.snapshot(org.uuid) == before


def test_a_refused_request_is_refused_the_same_way_on_retry(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    """The POST's own 4xx answers are kept: the retry of a refused body is refused again,
    byte for byte, and mending the body needs a new key."""
    bad = encoded(connection_body(org, partner, hamr_status=9))
    first = post(http, org, bad, Idempotency_Key="refused")
    the_error(first, 400)

    retry = post(http, org, bad, Idempotency_Key="refused")

    assert retry.status_code == 400
    assert retry.content == first.content
    assert retry.headers["content-type"] == first.headers["content-type"]
    assert retry.headers["idempotency-replayed"] == "true"
    mended = post(http, org, connection_body(org, partner), Idempotency_Key="refused")
    assert the_error(mended, 422)["source"] == {"header": KEY}
    assert admin.snapshot(org.uuid) == (None, 0)
    assert post(http, org, connection_body(org, partner), Idempotency_Key="new").is_success


def test_a_failed_precondition_is_kept_as_the_answer_to_its_key(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    assert post(http, org, connection_body(org, partner)).status_code == 200
    body = encoded(connection_body(org, partner, hamr_status=3))
    first = post(http, org, body, If_Match='"stale"', Idempotency_Key="conditional")
    the_error(first, 412)
    before = admin.snapshot(org.uuid)

    retry = post(http, org, body, If_Match=etag(http, org), Idempotency_Key="conditional")

    assert retry.status_code == 412
    assert retry.content == first.content
    assert retry.headers["idempotency-replayed"] == "true"
    assert admin.snapshot(org.uuid) == before


def test_a_key_whose_first_request_is_in_flight_is_a_409_that_changes_nothing(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    """Deterministically: the key is claimed first by another process (this one, through
    the service), as a server does before it answers; the server's request then finds it."""
    body = encoded(connection_body(org, partner))
    claim = admin.service.idempotency_keys.claim(
        org.uuid, "busy", request_digest("POST", PATH, body)
    )
    assert isinstance(claim, KeyClaim)

    refused = post(http, org, body, Idempotency_Key="busy")

    error = the_error(refused, 409)
    assert error["source"] == {"header": KEY}
    assert "still being processed" in error["detail"]
    assert admin.snapshot(org.uuid) == (None, 0)
    # Once the first request is answered, the retry gets that answer.
    admin.service.idempotency_keys.answer(claim, StoredAnswer(200, b'{"first":"answer"}'))
    replayed = post(http, org, body, Idempotency_Key="busy")
    assert replayed.status_code == 200
    assert replayed.content == b'{"first":"answer"}'
    assert replayed.headers["idempotency-replayed"] == "true"
    assert admin.snapshot(org.uuid) == (None, 0)


def test_concurrent_requests_with_one_key_write_once(
    server: ServeProcess, second_server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    """Sent at once to two servers on one database: one claim wins (its INSERT), so one
    request writes; each other gets the first answer or, while it is in flight, a 409."""
    body = encoded(connection_body(org, partner, hamr_status=1))

    def send(n: int) -> httpx.Response:
        url = (server, second_server)[n % 2].url
        with local_http.client(base_url=url, timeout=30) as client:
            return post(client, org, body, Idempotency_Key="once")

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(send, range(12)))

    written = [
        a for a in answers if a.status_code == 200 and "idempotency-replayed" not in a.headers
    ]
    assert len(written) == 1
    for answer in answers:
        if answer is written[0]:
            continue
        if answer.status_code == 200:
            assert answer.headers["idempotency-replayed"] == "true"
            assert answer.content == written[0].content
        else:
            assert the_error(answer, 409)["source"] == {"header": KEY}
    assert len(admin.history(org.uuid)) == 1


def test_two_servers_on_one_database_agree_on_a_key(
    http: httpx.Client, second_server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    body = encoded(connection_body(org, partner))
    first = post(http, org, body, Idempotency_Key="shared")
    assert first.status_code == 200

    with local_http.client(base_url=second_server.url, timeout=10) as other:
        retry = post(other, org, body, Idempotency_Key="shared")
        reused = post(
            other, org, connection_body(org, partner, hamr_status=3), Idempotency_Key="shared"
        )

    assert retry.status_code == 200
    assert retry.headers["idempotency-replayed"] == "true"
    assert retry.content == first.content
    assert retry.headers["etag"] == first.headers["etag"]
    assert the_error(reused, 422)["source"] == {"header": KEY}
    assert len(admin.history(org.uuid)) == 1


def test_a_key_older_than_24_hours_is_absent(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    body = encoded(connection_body(org, partner, hamr_status=1))
    assert post(http, org, body, Idempotency_Key="daily").status_code == 200
    age_key(admin, org, "daily", now_us() - KEY_TTL_US + 60_000_000)  # 23 h 59 min ago
    assert post(http, org, body, Idempotency_Key="daily").headers["idempotency-replayed"] == "true"
    age_key(admin, org, "daily", now_us() - KEY_TTL_US - 1_000_000)  # 24 h and a second ago

    again = post(http, org, body, Idempotency_Key="daily")

    assert again.status_code == 200
    assert "idempotency-replayed" not in again.headers
    assert len(admin.history(org.uuid)) == 2
    # And the key now names this new request: another body is refused again.
    other = post(http, org, connection_body(org, partner, hamr_status=2), Idempotency_Key="daily")
    assert the_error(other, 422)["source"] == {"header": KEY}


def test_a_claim_left_by_a_server_that_died_is_taken_over_after_its_lease(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    """A claim without an answer means nothing was written under it (a write and its answer
    commit together); once its lease is over, a retry takes it and writes."""
    body = encoded(connection_body(org, partner))
    claim = admin.service.idempotency_keys.claim(
        org.uuid, "dead", request_digest("POST", PATH, body)
    )
    assert isinstance(claim, KeyClaim)
    age_key(admin, org, "dead", now_us() - IN_FLIGHT_LEASE_US - 1_000_000)

    retry = post(http, org, body, Idempotency_Key="dead")

    assert retry.status_code == 200, retry.text
    assert "idempotency-replayed" not in retry.headers
    assert len(admin.history(org.uuid)) == 1
    # The dead holder's claim is no longer the key's: it cannot store an answer over it.
    admin.service.idempotency_keys.answer(claim, StoredAnswer(400, b"late"))
    assert post(http, org, body, Idempotency_Key="dead").content == retry.content


def test_expired_keys_are_absent_and_purged_by_the_services_clock(
    admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    """The service's own clock decides expiry: driven here, in-process, on the suite's
    database."""
    clock = SimpleNamespace(now=now_us())
    service = HamrService(
        admin.store.unit_of_work,
        admin.store.view,
        frozenset(DEFAULT_DATACENTERS),
        clock=lambda: clock.now,
    )
    claim = service.idempotency_keys.claim(org.uuid, "clock", "digest-1")
    assert isinstance(claim, KeyClaim)
    service.idempotency_keys.answer(claim, StoredAnswer(200, b"kept"))
    stale = service.idempotency_keys.claim(partner.uuid, "forgotten", "digest-2")
    assert isinstance(stale, KeyClaim)

    clock.now += KEY_TTL_US
    assert service.idempotency_keys.claim(org.uuid, "clock", "digest-1") == StoredAnswer(
        200, b"kept"
    )
    clock.now += 1
    assert service.idempotency_keys.claim(org.uuid, "clock", "digest-other") == KeyClaim(
        org.uuid, "clock", clock.now
    )
    with admin.store.unit_of_work() as uow:  # not purged yet: it is ignored, then replaced
        assert uow.repository.get_idempotency_key(partner.uuid, "forgotten") is not None

    clock.now += PURGE_EVERY_US
    service.idempotency_keys.claim(org.uuid, "later", "digest-3")  # purges, now and then

    with admin.store.unit_of_work() as uow:
        assert uow.repository.get_idempotency_key(partner.uuid, "forgotten") is None
        assert uow.repository.get_idempotency_key(org.uuid, "clock") is not None


@pytest.mark.parametrize(
    "failure", [Unavailable("The database is unreachable."), RuntimeError("a fault")]
)
def test_a_5xx_is_never_kept_so_that_a_retry_can_succeed(
    admin: Admin, org: OrgKeys, failure: Exception
) -> None:
    """A failure the retry may get past releases the claim: the next request with the key is
    a first request. (Driven in-process: a live server's database cannot be taken away from
    the rest of the suite.)"""
    state: Any = SimpleNamespace(service=admin.service, wire=WireFormat.named("both"))

    async def fail(_claim: KeyClaim) -> Response:
        raise failure

    async def answer() -> Response:
        return await answer_once(state, org.uuid, "flaky", "digest", fail)

    if isinstance(failure, Unavailable):
        assert asyncio.run(answer()).status_code == 503
    else:
        with pytest.raises(RuntimeError):
            asyncio.run(answer())
    assert isinstance(admin.service.idempotency_keys.claim(org.uuid, "flaky", "digest"), KeyClaim)


@pytest.mark.parametrize("key", ["", "x" * 256], ids=["empty", "256"])
def test_an_unusable_key_is_a_400_that_changes_nothing(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys, key: str
) -> None:
    refused = post(http, org, connection_body(org, partner), Idempotency_Key=key)
    assert the_error(refused, 400)["source"] == {"header": KEY}
    assert admin.snapshot(org.uuid) == (None, 0)


def test_a_key_of_255_characters_is_accepted(
    http: httpx.Client, org: OrgKeys, partner: OrgKeys
) -> None:
    key = "k" * 255
    body = encoded(connection_body(org, partner))
    assert post(http, org, body, Idempotency_Key=key).status_code == 200
    assert post(http, org, body, Idempotency_Key=key).headers["idempotency-replayed"] == "true"


# -- ?dry_run ---------------------------------------------------------------------------------


def test_a_dry_run_answers_what_would_be_stored_and_stores_nothing(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner, hamr_status=1)

    rehearsed = post(http, org, body, params={"dry_run": "true"})

    assert rehearsed.status_code == 200, rehearsed.text
    assert rehearsed.headers["x-hamr-dry-run"] == "true"
    assert "etag" not in rehearsed.headers  # never stored: no version to name
    attributes = rehearsed.json()["data"]["attributes"]
    assert attributes["hamr_status"] == 1
    assert attributes["target_org_uuid"] == partner.uuid
    assert admin.snapshot(org.uuid) == (None, 0)
    assert admin.snapshot(partner.uuid) == (None, 0)
    assert http.get(PATH, headers={**org.headers, **LANE}).status_code == 404

    written = post(http, org, body, params={"dry_run": "false"})
    assert written.status_code == 200
    assert "x-hamr-dry-run" not in written.headers
    assert written.json()["data"]["attributes"]["hamr_status"] == 1
    assert len(admin.history(org.uuid)) == 1


def test_a_dry_run_says_what_the_transition_policy_would_warn_about(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    assert post(http, org, connection_body(org, partner, hamr_status=2)).status_code == 200
    current = etag(http, org)
    before = admin.snapshot(org.uuid)

    skipped = post(http, org, connection_body(org, partner, hamr_status=4), {"dry_run": "true"})

    assert skipped.status_code == 200
    assert skipped.headers["x-hamr-dry-run"] == "true"
    assert skipped.headers["x-hamr-warning"].startswith("Would be stored, but 2 PASSIVE -> 4")
    assert skipped.json()["data"]["attributes"]["hamr_status"] == 4
    assert admin.snapshot(org.uuid) == before
    assert etag(http, org) == current


def test_a_dry_run_is_refused_as_the_write_would_be(
    enforcing: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    """The policy (`--transitions enforce`), the pair rules and preconditions: each refusal
    a dry run gets is the write's, and changes nothing either."""
    third = admin.create_org("eu1")
    with local_http.client(base_url=enforcing.url, timeout=10) as http:
        assert post(http, org, connection_body(org, partner, hamr_status=2)).status_code == 200
        before, seen_by_partner = admin.snapshot(org.uuid), admin.snapshot(partner.uuid)
        dry = {"dry_run": "true"}

        refused_move = post(http, org, connection_body(org, partner, hamr_status=4), dry)
        repointed = post(http, org, connection_body(org, third, hamr_status=2), dry)
        stale = post(http, org, connection_body(org, partner), dry, If_Match='"stale"')
        allowed = post(http, org, connection_body(org, partner, hamr_status=3), dry)

    assert "is not a move of the HAMR lifecycle" in the_error(refused_move, 409)["detail"]
    assert "unlink" in the_error(repointed, 409)["detail"]
    assert the_error(stale, 412)["source"] == {"header": "If-Match"}
    assert allowed.status_code == 200
    assert allowed.headers["x-hamr-dry-run"] == "true"
    assert admin.snapshot(org.uuid) == before
    assert admin.snapshot(partner.uuid) == seen_by_partner
    assert admin.snapshot(third.uuid) == (None, 0)


@pytest.mark.parametrize("value", ["yes", "True", "1", ""])
def test_dry_run_other_than_true_or_false_is_a_400_that_changes_nothing(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys, value: str
) -> None:
    refused = post(http, org, connection_body(org, partner), {"dry_run": value})
    error = the_error(refused, 400)
    assert error["source"] == {"parameter": "dry_run"}
    assert admin.snapshot(org.uuid) == (None, 0)


def test_dry_run_given_twice_is_a_400(http: httpx.Client, org: OrgKeys, partner: OrgKeys) -> None:
    refused = http.post(
        f"{PATH}?dry_run=true&dry_run=false",
        json=connection_body(org, partner),
        headers=org.headers,
    )
    assert the_error(refused, 400)["source"] == {"parameter": "dry_run"}


# -- through Datadog's official Python client ------------------------------------------------


def test_the_official_client_reads_etags_and_sees_412_422_and_409_as_api_exceptions(
    hamr_api: Any, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    """The client has no per-call If-Match or Idempotency-Key, but sends its ApiClient's
    default headers (`set_default_header`) with every request, and returns the response
    headers when `return_http_data_only` is off (a plain dict, named as sent: lower case): so
    it is driven through its own API, no raw HTTP. Each refusal reaches it as a plain
    `ApiException` (its subclasses are for 401, 403, 404 and 5xx only), with `.status`, the
    JSON:API document already parsed into a dict in `.body`, and `.headers`."""
    api = hamr_api(org)
    client = api.api_client
    client.configuration.return_http_data_only = False
    body = request_for(org, partner, status=2)
    _data, status, headers = api.create_hamr_org_connection(body)
    assert status == 200
    tag = headers["etag"]
    _data, status, headers = api.get_hamr_org_connection()  # the app's lane: it asks for gzip
    assert headers["etag"] == tag

    def refusal(status: int) -> dict[str, Any]:
        with pytest.raises(ApiException) as raised:
            api.create_hamr_org_connection(body)
        refused = raised.value
        assert type(refused) is ApiException
        assert refused.status == status
        assert refused.headers["content-type"] == "application/json"
        (item,) = refused.body["errors"]  # the client parsed it already
        assert item["status"] == str(status)
        return item  # type: ignore[no-any-return]

    before = admin.snapshot(org.uuid)
    client.set_default_header("If-Match", '"stale"')
    client.set_default_header(KEY, "client-probe")
    stale = refusal(412)
    assert stale["source"] == {"header": "If-Match"}
    assert tag in stale["detail"]
    assert admin.snapshot(org.uuid) == before

    client.set_default_header("If-Match", tag)
    client.set_default_header(KEY, "client-write")
    _data, status, headers = api.create_hamr_org_connection(body)
    assert status == 200
    assert "idempotency-replayed" not in headers
    _data, status, replayed = api.create_hamr_org_connection(body)  # its retry
    assert status == 200
    assert replayed["idempotency-replayed"] == "true"
    assert replayed["etag"] == headers["etag"]
    after_write = admin.snapshot(org.uuid)
    assert after_write[1] == before[1] + 1

    body = request_for(org, partner, status=3)
    assert refusal(422)["source"] == {"header": KEY}

    # The probe's key holds the digest of what the client sends for a body: claim another
    # key with it, as a server would for a first request still in flight.
    body = request_for(org, partner, status=2)
    with admin.store.unit_of_work() as uow:
        probe = uow.repository.get_idempotency_key(org.uuid, "client-probe")
    assert probe is not None
    claim = admin.service.idempotency_keys.claim(org.uuid, "client-busy", probe.request_digest)
    assert isinstance(claim, KeyClaim)
    client.set_default_header(KEY, "client-busy")
    assert refusal(409)["source"] == {"header": KEY}
    admin.service.idempotency_keys.release(claim)
    assert admin.snapshot(org.uuid) == after_write
