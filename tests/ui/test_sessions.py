"""The web page's session cookie, over HTTP against real servers: HttpOnly, SameSite=Strict,
limited to /ui, holding key ids and never a key; honoured by every process that shares
HAMR_SESSION_SECRET and by no other; over after SESSION_SECONDS."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

import httpx
import itsdangerous
import pytest

from hamr.api.ui.session import COOKIE, SESSION_SECONDS
from hamr.store.sql import open_store
from tests import local_http
from tests.conftest import GENEROUS_RATE_LIMITS, Admin, OrgKeys, ServeProcess, sqlite_url

SECRET = "a-session-secret-shared-by-two-processes"


@pytest.fixture(scope="module")
def servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[list[ServeProcess], OrgKeys]]:
    """Two servers sharing a session secret and a third with one of its own, on one database."""
    folder = tmp_path_factory.mktemp("sessions")
    url = sqlite_url(folder / "hamr.db")
    store = open_store(url)
    org = Admin(store).create_org("us1")
    store.close()
    env = {**os.environ, "HAMR_RATE_LIMITS": GENEROUS_RATE_LIMITS}
    shared = {**env, "HAMR_SESSION_SECRET": SECRET}
    started = []
    try:
        for name, environment in (("a", shared), ("b", shared), ("c", env)):
            log = folder / f"{name}.log"
            started.append(ServeProcess(url, log, env=environment).start())
        yield started, org
    finally:
        for server in started:
            server.stop()


def signed_in(client: httpx.Client, org: OrgKeys) -> httpx.Response:
    form = client.get("/ui/sign-in").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    keys = {"csrf": csrf.group(1), "api_key": org.api_key, "app_key": org.app_key}
    answer = client.post("/ui/sign-in", data=keys)
    assert answer.status_code == 303, answer.text
    return answer


def test_the_cookie_is_httponly_strict_and_holds_no_key(
    servers: tuple[list[ServeProcess], OrgKeys],
) -> None:
    (first, _, _), org = servers
    with local_http.client(base_url=first.url) as client:
        answer = signed_in(client, org)
    set_cookie = answer.headers["set-cookie"]
    assert re.search(r"(?i)\bhttponly\b", set_cookie)
    assert re.search(r"(?i)samesite=strict", set_cookie)
    assert re.search(r"(?i)path=/ui\b", set_cookie)
    value = answer.cookies[COOKIE]
    for secret in (org.api_key, org.app_key):
        assert secret not in value
    payload = itsdangerous.URLSafeTimedSerializer(SECRET, salt="hamr-ui-session").loads(value)
    assert set(payload) == {"csrf", "keys"}
    assert len(payload["keys"]) == 2  # the ids of the API key and the application key


def test_processes_sharing_the_secret_share_sessions_and_others_do_not(
    servers: tuple[list[ServeProcess], OrgKeys],
) -> None:
    (first, second, apart), org = servers
    with local_http.client(base_url=first.url) as client:
        cookie = signed_in(client, org).cookies[COOKIE]
    for server, expected in ((second, 200), (apart, 303)):
        seen = local_http.get(f"{server.url}/ui/pair", cookies={COOKIE: cookie})
        assert seen.status_code == expected, server.url
    assert (
        local_http.get(f"{apart.url}/ui/pair", cookies={COOKIE: cookie})
        .headers["location"]
        .startswith("/ui/sign-in")
    )


class _SignedLongAgo(itsdangerous.TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - SESSION_SECONDS - 60


def test_a_session_ends_after_its_time(servers: tuple[list[ServeProcess], OrgKeys]) -> None:
    (first, _, _), org = servers
    with local_http.client(base_url=first.url) as client:
        payload = itsdangerous.URLSafeTimedSerializer(SECRET, salt="hamr-ui-session").loads(
            signed_in(client, org).cookies[COOKIE]
        )
    old = itsdangerous.URLSafeTimedSerializer(
        SECRET, salt="hamr-ui-session", signer=_SignedLongAgo
    ).dumps(payload)
    fresh = itsdangerous.URLSafeTimedSerializer(SECRET, salt="hamr-ui-session").dumps(payload)
    assert local_http.get(f"{first.url}/ui/pair", cookies={COOKIE: fresh}).status_code == 200
    assert local_http.get(f"{first.url}/ui/pair", cookies={COOKIE: old}).status_code == 303


def test_pages_count_against_the_orgs_buckets(servers: tuple[list[ServeProcess], OrgKeys]) -> None:
    (first, _, _), org = servers
    with local_http.client(base_url=first.url) as client:
        signed_in(client, org)
        read = client.get("/ui/pair")
        form = client.get("/ui/pair/failover").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        operated = client.post("/ui/pair/failover", data={"csrf": csrf.group(1), "reason": "x"})
    assert read.headers["x-ratelimit-name"] == "hamr_get"
    assert operated.status_code == 409  # the org has no pair: refused, and counted
    assert operated.headers["x-ratelimit-name"] == "hamr_post"
