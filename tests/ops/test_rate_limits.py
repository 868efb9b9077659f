"""Rate limits as clients see them: Datadog's X-RateLimit-* headers on every HAMR response,
429 with Datadog's body once a bucket is spent, buckets per organization and (for refused
credentials) per client address, calendar-aligned windows, shared counts through Redis, and
the official Python client waiting out a 429.

Windows are calendar-aligned, so a test could straddle a window's end. Long windows (an hour)
are used where a count must hold, and each such test first makes sure the current window has
room left; short windows (3 s) are used only to watch a reset, asserting what happens, never
how fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.v2.api.high_availability_multi_region_api import (
    HighAvailabilityMultiRegionApi,
)
from jsonschema import Draft202012Validator

from hamr.domain.model import KeyKind
from hamr.store.sql import open_store
from tests import local_http
from tests.conftest import (
    PYTHON,
    Admin,
    OrgKeys,
    ServeProcess,
    connection_body,
    free_port,
    quota_headers,
    run_cli,
    sqlite_url,
)
from tests.postgres import PostgresServer, binaries_or_skip
from tests.redis import RedisServer
from tests.redis import binary_or_skip as redis_or_skip

HAMR = "/api/v2/hamr"
HOUR = 3600  # long windows: a count never rolls over during a test (see room_in_window)
SHORT = 3  # short windows: long enough for a few requests, short enough to wait out
TOO_MANY = {"errors": ["Too many requests"]}
HEADERS = ("Limit", "Period", "Remaining", "Reset", "Name")
# `hamr serve` inherits no HAMR_* setting: each test decides the limits (and relies on JSON
# logs and metrics being on); uvicorn's trusted-proxy list decides whose X-Forwarded-For counts.


def environment(**variables: str) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("HAMR_") and name != "FORWARDED_ALLOW_IPS"
    }
    return {**env, **variables}


def seconds_left(period: int) -> float:
    """Until the current calendar-aligned window of `period` seconds ends."""
    return period - time.time() % period


def room_in_window(period: int, seconds: float) -> None:
    """Make sure at least `seconds` remain in the current window, waiting for the next one if
    need be, so that the requests that follow are counted in one window."""
    left = seconds_left(period)
    if left < seconds:
        time.sleep(left + 0.05)


def quota(response: httpx.Response) -> dict[str, str]:
    """The five X-RateLimit-* headers (a missing one fails with the response shown)."""
    missing = [name for name in HEADERS if f"X-RateLimit-{name}" not in response.headers]
    assert not missing, f"{response.status_code} lacks X-RateLimit-{missing}: {response.headers}"
    return {name: response.headers[f"X-RateLimit-{name}"] for name in HEADERS}


def assert_quota(
    response: httpx.Response, name: str, limit: int, period: int, remaining: int
) -> None:
    got = quota(response)
    assert (got["Name"], got["Limit"], got["Period"], got["Remaining"]) == (
        name,
        str(limit),
        str(period),
        str(remaining),
    ), f"{response.status_code} {response.text}"
    reset = int(got["Reset"])  # whole seconds
    assert 1 <= reset <= period


def assert_too_many(response: httpx.Response, name: str, limit: int, period: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == TOO_MANY
    assert_quota(response, name, limit, period, remaining=0)


def has_no_quota(response: httpx.Response) -> bool:
    return not quota_headers(response)


@contextlib.contextmanager
def client_from(server: ServeProcess, address: str = "127.0.0.1") -> Iterator[httpx.Client]:
    """A client connecting from `address`: any of 127.0.0.0/8 is a distinct client address."""
    transport = httpx.HTTPTransport(local_address=address, verify=local_http.NO_TLS)
    with local_http.client(base_url=server.url, timeout=10, transport=transport) as client:
        yield client


def bad_key(org: OrgKeys) -> dict[str, str]:
    return {"DD-API-KEY": "not-a-key-" + org.uuid[:8], "DD-APPLICATION-KEY": org.app_key}


def access_log(server: ServeProcess, org: OrgKeys) -> list[dict[str, Any]]:
    """The server's access log lines (JSON) for one organization."""
    lines = (line for line in server.log().splitlines() if line.startswith("{"))
    entries = (json.loads(line) for line in lines)
    return [e for e in entries if e.get("logger") == "hamr.access" and e.get("org") == org.uuid]


# Servers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    url: str
    admin: Admin


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One SQLite database shared by this module's servers (rate limits do not depend on the
    backend; one test needs PostgreSQL and brings its own)."""
    url = sqlite_url(tmp_path_factory.mktemp("ratelimit-db") / "hamr.db")
    store = open_store(url)
    yield Database(url, Admin(store))
    store.close()


@pytest.fixture
def org(database: Database) -> OrgKeys:
    return database.admin.create_org("us1")


@pytest.fixture
def partner(database: Database) -> OrgKeys:
    return database.admin.create_org("eu1")


def start(database_url: str, log: Path, *flags: str, env: dict[str, str]) -> ServeProcess:
    return ServeProcess(database_url, log, *flags, env=env).start()


@pytest.fixture(scope="module")
def limited(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """In-memory limits, an hour long: GET 5 (from HAMR_RATE_LIMITS), POST 3 (a flag over the
    environment's 9) and 3 refused requests per client address."""
    server = start(
        database.url,
        tmp_path_factory.mktemp("log") / "limited.log",
        "--rate-limit",
        f"hamr_post=3/{HOUR}",
        "--rate-limit",
        f"hamr_unauthenticated=3/{HOUR}",
        env=environment(HAMR_RATE_LIMITS=f"hamr_get=5/{HOUR},hamr_post=9/{HOUR}"),
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def short(database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """One GET per 3 s window; every other bucket at its default."""
    server = start(
        database.url,
        tmp_path_factory.mktemp("log") / "short.log",
        "--rate-limit",
        f"hamr_get=1/{SHORT}",
        env=environment(),
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis() -> Iterator[RedisServer]:
    """One redis-server for the session (installed from Debian if missing and possible);
    skipped without it unless HAMR_REQUIRE_REDIS=1 (as in CI), when its absence fails."""
    server = RedisServer(redis_or_skip(), free_port()).start()
    yield server
    server.destroy()


@pytest.fixture(scope="module")
def pair(
    database: Database, redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServeProcess, ServeProcess]]:
    """Two processes on one database, counting in one Redis: 5 GETs an hour per org."""
    logs = tmp_path_factory.mktemp("log")
    flags = ("--rate-limit-storage", redis.url, "--rate-limit", f"hamr_get=5/{HOUR}")
    first = start(database.url, logs / "a.log", *flags, env=environment())
    try:
        second = start(database.url, logs / "b.log", *flags, env=environment())
    except BaseException:
        first.stop()
        raise
    yield first, second
    first.stop()
    second.stop()


# Headers and 429s --------------------------------------------------------------------------


def test_every_hamr_response_carries_its_buckets_headers(
    limited: ServeProcess, org: OrgKeys, partner: OrgKeys
) -> None:
    room_in_window(HOUR, 20)
    with client_from(limited) as http:
        not_found = http.get(HAMR, headers=org.headers)
        invalid = http.post(HAMR, headers=org.headers, json={})
        created = http.post(HAMR, headers=org.headers, json=connection_body(org, partner))
        read = http.get(HAMR, headers=org.headers)
        unlimited = http.get("/healthz")
    with client_from(limited, "127.0.0.10") as stranger:
        refused = stranger.get(HAMR, headers=bad_key(org))

    assert [r.status_code for r in (not_found, invalid, created, read, refused)] == [
        404,
        400,
        200,
        200,
        403,
    ]
    # GET's limit comes from HAMR_RATE_LIMITS; POST's flag overrides the environment's.
    assert_quota(not_found, "hamr_get", 5, HOUR, remaining=4)
    assert_quota(invalid, "hamr_post", 3, HOUR, remaining=2)
    assert_quota(created, "hamr_post", 3, HOUR, remaining=1)
    assert_quota(read, "hamr_get", 5, HOUR, remaining=3)
    assert_quota(refused, "hamr_unauthenticated", 3, HOUR, remaining=2)
    # Calendar-aligned: an hour's window ends on the hour, whenever the first request came.
    for response in (not_found, invalid, created, read, refused):
        assert abs(int(response.headers["X-RateLimit-Reset"]) - seconds_left(HOUR)) <= 2
    assert has_no_quota(unlimited)


def test_refusals_after_counting_carry_the_buckets_headers_and_405_none(
    limited: ServeProcess, org: OrgKeys
) -> None:
    """A body too large or of the wrong type is refused after the request was counted, so its
    answer carries the bucket's headers; a method the endpoint lacks is refused before."""
    room_in_window(HOUR, 20)
    with client_from(limited) as http:
        too_large = http.post(
            HAMR,
            headers={**org.headers, "Content-Type": "application/json"},
            content=b"{" + b" " * 70_000 + b"}",
        )
        wrong_type = http.post(
            HAMR, headers={**org.headers, "Content-Type": "text/plain"}, content=b"{}"
        )
        not_allowed = http.put(HAMR, headers=org.headers, json={})

    assert [r.status_code for r in (too_large, wrong_type, not_allowed)] == [413, 415, 405]
    assert_quota(too_large, "hamr_post", 3, HOUR, remaining=2)
    assert_quota(wrong_type, "hamr_post", 3, HOUR, remaining=1)
    assert has_no_quota(not_allowed)


def test_over_the_limit_is_429_with_datadogs_error_body(
    limited: ServeProcess,
    org: OrgKeys,
    partner: OrgKeys,
    schema_validator: Callable[[str], Draft202012Validator],
) -> None:
    room_in_window(HOUR, 20)
    with client_from(limited) as http:
        counted_before = rate_limited(http.get("/metrics").text)
        for remaining in (4, 3, 2, 1, 0):
            response = http.get(HAMR, headers=org.headers)
            assert response.status_code == 404
            assert_quota(response, "hamr_get", 5, HOUR, remaining)
        refused = http.get(HAMR, headers=org.headers)
        again = http.get(HAMR, headers=org.headers)
        # The buckets are apart: POST still has its own.
        posted = http.post(HAMR, headers=org.headers, json=connection_body(org, partner))
        counted = rate_limited(http.get("/metrics").text) - counted_before

    assert_too_many(refused, "hamr_get", 5, HOUR)
    schema_validator("APIErrorResponse").validate(refused.json())
    assert_too_many(again, "hamr_get", 5, HOUR)
    assert posted.status_code == 200
    assert_quota(posted, "hamr_post", 3, HOUR, remaining=2)
    assert counted == 2  # the two 429s


def rate_limited(metrics: str) -> float:
    """hamr_rate_limited_requests_total of bucket hamr_get (0 before the first)."""
    series = 'hamr_rate_limited_requests_total{bucket="hamr_get"} '
    found = [line for line in metrics.splitlines() if line.startswith(series)]
    return float(found[0].removeprefix(series)) if found else 0.0


def test_a_429_changes_nothing_stored(
    limited: ServeProcess, org: OrgKeys, partner: OrgKeys, database: Database
) -> None:
    room_in_window(HOUR, 20)
    with client_from(limited) as http:
        first = http.post(HAMR, headers=org.headers, json=connection_body(org, partner))
        invalid = http.post(HAMR, headers=org.headers, json={"data": {}})  # counts too
        second = http.post(
            HAMR, headers=org.headers, json=connection_body(org, partner, hamr_status=3)
        )
        before = database.admin.snapshot(org.uuid)
        refused = http.post(
            HAMR, headers=org.headers, json=connection_body(org, partner, hamr_status=5)
        )
        read = http.get(HAMR, headers=org.headers)

    assert [first.status_code, invalid.status_code, second.status_code] == [200, 400, 200]
    assert_too_many(refused, "hamr_post", 3, HOUR)
    assert database.admin.snapshot(org.uuid) == before
    assert read.status_code == 200
    assert read.json()["data"]["attributes"]["hamr_status"] == 3


def test_one_orgs_exhaustion_leaves_other_orgs_alone(
    limited: ServeProcess, org: OrgKeys, database: Database
) -> None:
    other = database.admin.create_org("us1")
    room_in_window(HOUR, 20)
    with client_from(limited) as http:
        for _ in range(5):
            assert http.get(HAMR, headers=org.headers).status_code == 404
        assert_too_many(http.get(HAMR, headers=org.headers), "hamr_get", 5, HOUR)
        response = http.get(HAMR, headers=other.headers)

    assert response.status_code == 404
    assert_quota(response, "hamr_get", 5, HOUR, remaining=4)


def test_the_bucket_is_the_organizations_whatever_its_credentials(
    limited: ServeProcess, org: OrgKeys, database: Database
) -> None:
    token = database.admin.service.create_key(org.uuid, KeyKind.TOKEN)[1]
    bearer = {"Authorization": f"Bearer {token}"}
    room_in_window(HOUR, 20)
    with client_from(limited) as http:
        for remaining, headers in zip((4, 3, 2, 1, 0), [org.headers, bearer] * 3, strict=False):
            response = http.get(HAMR, headers=headers)
            assert response.status_code == 404
            assert_quota(response, "hamr_get", 5, HOUR, remaining)
        assert_too_many(http.get(HAMR, headers=bearer), "hamr_get", 5, HOUR)
        assert_too_many(http.get(HAMR, headers=org.headers), "hamr_get", 5, HOUR)


def test_both_get_lanes_count_in_one_bucket_and_refuse_alike(
    limited: ServeProcess, org: OrgKeys, database: Database
) -> None:
    """The fast lane answers GETs that do not ask for gzip, the app's route those that do
    (tests/api/test_fast_get.py), and either reads credentials new to the server from storage:
    each request is counted once, and the 429s look the same."""
    lane = {**org.headers, "Accept-Encoding": "identity"}
    app = {**org.headers, "Accept-Encoding": "gzip"}
    unseen = {**database.admin.unseen_credentials(org), "Accept-Encoding": "identity"}
    room_in_window(HOUR, 20)
    with client_from(limited) as http:
        for remaining, headers in zip((4, 3, 2, 1, 0), [lane, app, unseen, lane, app], strict=True):
            response = http.get(HAMR, headers=headers)
            assert response.status_code == 404
            assert_quota(response, "hamr_get", 5, HOUR, remaining)
        by_lane = http.get(HAMR, headers=lane)
        by_app = http.get(HAMR, headers=app)
    for refused in (by_lane, by_app):
        assert_too_many(refused, "hamr_get", 5, HOUR)
    assert by_lane.content == by_app.content
    assert sorted(by_lane.headers) == sorted(by_app.headers)


# Refused credentials ---------------------------------------------------------------------


def test_refused_credentials_are_limited_per_client_address(
    limited: ServeProcess, org: OrgKeys
) -> None:
    room_in_window(HOUR, 20)
    with (
        client_from(limited, "127.0.0.20") as flooder,
        client_from(limited, "127.0.0.21") as neighbour,
    ):
        known = flooder.get(HAMR, headers=org.headers)  # a valid caller from the same address
        refusals = [
            flooder.get(HAMR, headers=bad_key(org)),
            flooder.get(HAMR),  # no credentials at all
            flooder.get(HAMR, headers={"Authorization": "Bearer not-a-token"}),
        ]
        flooded = [
            flooder.get(HAMR, headers=bad_key(org)),
            flooder.post(HAMR, headers=bad_key(org), json={}),
        ]
        elsewhere = neighbour.get(HAMR, headers=bad_key(org))
        still_known = flooder.get(HAMR, headers=org.headers)

    assert known.status_code == 404
    for remaining, response in zip((2, 1, 0), refusals, strict=True):
        assert response.status_code == 403
        assert_quota(response, "hamr_unauthenticated", 3, HOUR, remaining)
    for response in flooded:
        assert_too_many(response, "hamr_unauthenticated", 3, HOUR)
    # Another address has its own budget; valid keys count in their organization's bucket.
    assert elsewhere.status_code == 403
    assert_quota(elsewhere, "hamr_unauthenticated", 3, HOUR, remaining=2)
    assert still_known.status_code == 404
    assert_quota(still_known, "hamr_get", 5, HOUR, remaining=3)


def test_x_forwarded_for_from_an_untrusted_peer_does_not_escape_the_limit(
    limited: ServeProcess, org: OrgKeys
) -> None:
    room_in_window(HOUR, 20)
    with client_from(limited, "127.0.0.30") as flooder:
        responses = [
            flooder.get(HAMR, headers={**bad_key(org), "X-Forwarded-For": f"10.0.0.{n}"})
            for n in range(4)
        ]

    assert [r.status_code for r in responses] == [403, 403, 403, 429]
    assert_too_many(responses[-1], "hamr_unauthenticated", 3, HOUR)


def test_x_forwarded_for_from_the_trusted_proxy_is_the_client_address(
    limited: ServeProcess, org: OrgKeys
) -> None:
    """From 127.0.0.1 (a reverse proxy on the same host), each forwarded address has its own
    budget of refusals, and one address's flood is limited as if it had connected itself."""
    room_in_window(HOUR, 20)
    with client_from(limited) as proxy:
        spread = [
            proxy.get(HAMR, headers={**bad_key(org), "X-Forwarded-For": f"10.1.0.{n}"})
            for n in range(4)
        ]
        flood = [
            proxy.get(HAMR, headers={**bad_key(org), "X-Forwarded-For": "10.1.1.1"})
            for _ in range(4)
        ]

    assert [r.status_code for r in spread] == [403] * 4
    for response in spread:
        assert_quota(response, "hamr_unauthenticated", 3, HOUR, remaining=2)
    assert [r.status_code for r in flood] == [403, 403, 403, 429]
    assert_too_many(flood[-1], "hamr_unauthenticated", 3, HOUR)


def test_an_exhausted_address_is_refused_without_a_key_lookup(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A flood of bad keys must not cost a credential lookup each once its address is over
    the limit: with the database down, the over-limit address still gets its 429."""
    postgres = PostgresServer(binaries_or_skip(), free_port()).init()
    server: ServeProcess | None = None
    try:
        postgres.create_database()
        store = open_store(postgres.url)
        org = Admin(store).create_org("us1")
        store.close()
        server = start(
            postgres.url,
            tmp_path_factory.mktemp("log") / "postgres.log",
            "--rate-limit",
            f"hamr_unauthenticated=2/{HOUR}",
            env=environment(),
        )
        room_in_window(HOUR, 20)
        with client_from(server) as http:
            assert [http.get(HAMR, headers=bad_key(org)).status_code for _ in range(2)] == [
                403,
                403,
            ]
            postgres.stop("immediate")
            flooded = http.get(HAMR, headers=bad_key(org))
        assert_too_many(flooded, "hamr_unauthenticated", 2, HOUR)
    finally:
        if server is not None:
            server.stop()
        postgres.destroy()


# Windows and the official client ----------------------------------------------------------


def test_a_429_lasts_until_x_ratelimit_reset(short: ServeProcess, org: OrgKeys) -> None:
    with client_from(short) as http:
        # However the first requests fall across windows, the second in one window is refused.
        for _ in range(2 * SHORT):
            refused = http.get(HAMR, headers=org.headers)
            if refused.status_code == 429:
                break
        assert_too_many(refused, "hamr_get", 1, SHORT)
        time.sleep(int(refused.headers["X-RateLimit-Reset"]))
        allowed = http.get(HAMR, headers=org.headers)

    assert allowed.status_code == 404
    assert_quota(allowed, "hamr_get", 1, SHORT, remaining=0)


def test_buckets_not_configured_keep_their_defaults(
    short: ServeProcess, org: OrgKeys, partner: OrgKeys
) -> None:
    room_in_window(60, 5)
    with client_from(short) as http:
        posted = http.post(HAMR, headers=org.headers, json=connection_body(org, partner))
    with client_from(short, "127.0.0.40") as stranger:
        refused = stranger.get(HAMR, headers=bad_key(org))

    assert posted.status_code == 200
    assert_quota(posted, "hamr_post", 100, 60, remaining=99)
    assert refused.status_code == 403
    assert_quota(refused, "hamr_unauthenticated", 100, 60, remaining=99)
    # A 60 s window resets on the minute.
    for response in (posted, refused):
        assert abs(int(response.headers["X-RateLimit-Reset"]) - seconds_left(60)) <= 2


def test_official_client_with_enable_retry_waits_out_a_429(
    short: ServeProcess, org: OrgKeys, partner: OrgKeys
) -> None:
    """datadog-api-client's ClientRetry sleeps for X-Ratelimit-Reset on a 429, then retries."""
    with client_from(short) as http:
        assert http.post(HAMR, headers=org.headers, json=connection_body(org, partner)).is_success
        configuration = Configuration(host=short.url, enable_retry=True)
        configuration.api_key["apiKeyAuth"] = org.api_key
        configuration.api_key["appKeyAuth"] = org.app_key
        configuration.unstable_operations["get_hamr_org_connection"] = True
        with ApiClient(configuration) as client:
            api = HighAvailabilityMultiRegionApi(client)
            room_in_window(SHORT, 2)
            spent = http.get(HAMR, headers=org.headers)  # the window's one GET
            read = api.get_hamr_org_connection()  # 429 first, then a retry after the reset

    assert spent.status_code == 200
    assert read.data.id == org.uuid
    assert read.data.attributes.target_org_uuid == partner.uuid
    statuses = [entry["status"] for entry in access_log(short, org) if entry["method"] == "GET"]
    assert statuses[:2] == [200, 429]


# Settings ----------------------------------------------------------------------------------


def test_flags_override_the_environment_bucket_by_bucket() -> None:
    shown = run_cli(
        "config",
        "--json",
        "--rate-limit",
        "hamr_unauthenticated=off",
        env=environment(HAMR_RATE_LIMITS="hamr_post=7/30"),
    )
    assert shown.returncode == 0, shown.stderr
    setting = json.loads(shown.stdout)["rate_limits"]
    assert setting == {"value": "hamr_get=1000/60,hamr_post=7/30", "source": "flag"}


INVALID = {
    "no period": (["--rate-limit", "hamr_get=1000"], {}, "hamr_get=1000"),
    "unknown bucket": (["--rate-limit", "hamr_put=5/60"], {}, "hamr_put"),
    "zero amount": (["--rate-limit", "hamr_post=0/60"], {}, "hamr_post=0/60"),
    "bad environment": ([], {"HAMR_RATE_LIMITS": "hamr_get=lots/60"}, "hamr_get=lots/60"),
    "bad storage": (["--rate-limit-storage", "ftp://limits"], {}, "ftp://limits"),
}


def test_invalid_rate_limit_settings_make_serve_exit_2_with_one_line(tmp_path: Path) -> None:
    running = {
        case: subprocess.Popen(
            [
                PYTHON,
                "-m",
                "hamr",
                "serve",
                "--port",
                "0",
                "--database",
                sqlite_url(tmp_path / f"{n}.db"),
                *flags,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=environment(**variables),
        )
        for n, (case, (flags, variables, _named)) in enumerate(INVALID.items())
    }
    outcomes: dict[str, tuple[int | None, list[str]]] = {}
    for case, process in running.items():
        try:
            _out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _out, err = process.communicate()
        outcomes[case] = (process.returncode, err.strip().splitlines())

    for case, (_flags, _variables, named) in INVALID.items():
        status, lines = outcomes[case]
        assert status == 2, (case, status, lines)
        assert len(lines) == 1, (case, lines)
        assert named in lines[0], (case, lines)


# Redis -------------------------------------------------------------------------------------


def test_two_processes_sharing_redis_share_one_count(
    pair: tuple[ServeProcess, ServeProcess], org: OrgKeys
) -> None:
    first, second = pair
    room_in_window(HOUR, 20)
    with client_from(first) as a, client_from(second) as b:
        responses = [client.get(HAMR, headers=org.headers) for client in (a, a, a, b, b, b)]
        also_refused = a.get(HAMR, headers=org.headers)

    for remaining, response in zip((4, 3, 2, 1, 0), responses, strict=False):
        assert response.status_code == 404
        assert_quota(response, "hamr_get", 5, HOUR, remaining)
    assert_too_many(responses[5], "hamr_get", 5, HOUR)
    assert_too_many(also_refused, "hamr_get", 5, HOUR)
    resets = {int(r.headers["X-RateLimit-Reset"]) for r in responses}
    assert max(resets) - min(resets) <= 1  # one window, in both processes


def test_requests_are_served_while_redis_is_down(
    pair: tuple[ServeProcess, ServeProcess], redis: RedisServer, org: OrgKeys, partner: OrgKeys
) -> None:
    """Fail open: without its storage a server serves unlimited rather than refusing; once
    Redis is back, counting resumes."""
    first, second = pair
    room_in_window(HOUR, 20)
    try:
        redis.stop()
        with client_from(first) as a, client_from(second) as b:
            outage = [
                a.post(HAMR, headers=org.headers, json=connection_body(org, partner)),
                *(b.get(HAMR, headers=org.headers) for _ in range(7)),  # more than the limit
            ]
            ready_without_redis = a.get("/readyz")
    finally:
        redis.start()
    with client_from(first) as a:
        after = a.get(HAMR, headers=org.headers)

    assert [r.status_code for r in outage] == [200] * 8, [r.text for r in outage]
    # Ready all the same (it serves), and saying why nothing is limited.
    assert ready_without_redis.status_code == 200
    assert ready_without_redis.json() == {
        "status": "ready",
        "checks": {
            "database": "ok",
            "rate_limit_storage": "unreachable; requests are not being rate limited",
        },
    }
    assert after.status_code == 200
    assert_quota(after, "hamr_get", 5, HOUR, remaining=4)  # Redis came back empty


def test_requests_are_served_while_redis_does_not_answer(
    pair: tuple[ServeProcess, ServeProcess], redis: RedisServer, org: OrgKeys
) -> None:
    """Redis stopped, not gone (as in a network partition): requests must not wait on it
    for ever; they are served, unlimited, as when Redis is down."""
    first, _second = pair
    try:
        redis.pause()
        with client_from(first) as a:
            try:
                response = a.get(HAMR, headers=org.headers, timeout=5)
            except httpx.ReadTimeout:
                pytest.fail("a GET waited more than 5 s on an unresponsive Redis")
    finally:
        redis.resume()

    assert response.status_code == 404


def test_buckets_with_equal_limits_count_apart(
    database: Database, org: OrgKeys, partner: OrgKeys, tmp_path: Path
) -> None:
    """Regression: counters were once keyed by the limit alone, so hamr_get and hamr_post set
    to the same amount and period shared one count per org."""
    limits = f"hamr_get=3/{HOUR},hamr_post=3/{HOUR}"
    server = start(database.url, tmp_path / "equal.log", env=environment(HAMR_RATE_LIMITS=limits))
    try:
        room_in_window(HOUR, 20)
        with client_from(server) as http:
            reads = [http.get(HAMR, headers=org.headers) for _ in range(3)]
            write = http.post(HAMR, headers=org.headers, json=connection_body(org, partner))
    finally:
        server.stop()
    assert [r.status_code for r in reads] == [404, 404, 404]
    assert_quota(reads[-1], "hamr_get", 3, HOUR, remaining=0)
    assert write.status_code == 200, write.text
    assert_quota(write, "hamr_post", 3, HOUR, remaining=2)
