"""Transport details clients rely on: gzip both ways, and Datadog's key-validation endpoint."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable, Iterator

import httpx
import pytest
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.exceptions import ForbiddenException
from datadog_api_client.v1.api.authentication_api import AuthenticationApi

from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body

PATH = "/api/v2/hamr"
LIMIT = 64 * 1024


def post_raw(
    http: httpx.Client, org: OrgKeys, content: bytes, encoding: str | None
) -> httpx.Response:
    headers = {**org.headers, "Content-Type": "application/json"}
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    return http.post(PATH, content=content, headers=headers)


def test_responses_are_gzipped_for_clients_that_ask(
    http: httpx.Client, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner)
    assert http.post(PATH, json=body, headers=org.headers).status_code == 200
    asked = http.get(PATH, headers={**org.headers, "Accept-Encoding": "gzip"})
    plain = http.get(PATH, headers={**org.headers, "Accept-Encoding": "identity"})
    assert asked.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert asked.json() == plain.json()  # httpx decompressed the first


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("GZIP", gzip.compress)],
)
def test_compressed_request_bodies_are_accepted(
    http: httpx.Client,
    admin: Admin,
    org: OrgKeys,
    partner: OrgKeys,
    encoding: str,
    compress: object,
) -> None:
    raw = json.dumps(connection_body(org, partner, hamr_status=5)).encode()
    response = post_raw(http, org, compress(raw), encoding)  # type: ignore[operator]
    assert response.status_code == 200, response.text
    stored = admin.connection(org.uuid)
    assert stored is not None
    assert stored.hamr_status == 5


def one_error(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    (item,) = response.json()["errors"]
    assert item["status"] == str(status)
    assert item["detail"]
    return item  # type: ignore[no-any-return]


def test_an_unknown_content_encoding_is_415(
    http: httpx.Client, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    raw = json.dumps(connection_body(org, partner)).encode()
    item = one_error(post_raw(http, org, raw, "br"), 415)
    assert item["source"] == {"header": "Content-Encoding"}
    assert "gzip" in str(item["detail"])
    assert admin.snapshot(org.uuid) == (None, 0)


@pytest.mark.parametrize(
    "content",
    [b"not gzip at all", gzip.compress(b'{"data": {}}')[:-12]],
    ids=["corrupt", "truncated"],
)
def test_broken_compressed_bodies_are_400(
    http: httpx.Client, admin: Admin, org: OrgKeys, content: bytes
) -> None:
    item = one_error(post_raw(http, org, content, "gzip"), 400)
    assert item["source"] == {"pointer": ""}
    assert admin.snapshot(org.uuid) == (None, 0)


def test_a_gzip_bomb_stops_at_the_limit(http: httpx.Client, admin: Admin, org: OrgKeys) -> None:
    bomb = gzip.compress(b"{" + b" " * (50 * 1024 * 1024) + b"}")  # 50 MiB inflated
    assert len(bomb) < LIMIT
    item = one_error(post_raw(http, org, bomb, "gzip"), 413)
    assert str(LIMIT) in str(item["detail"])
    assert admin.snapshot(org.uuid) == (None, 0)


@pytest.fixture
def authentication_api(server: ServeProcess) -> Iterator[Callable[[str], AuthenticationApi]]:
    clients: list[ApiClient] = []

    def make(api_key: str) -> AuthenticationApi:
        configuration = Configuration(host=server.url)
        configuration.api_key["apiKeyAuth"] = api_key
        client = ApiClient(configuration)
        clients.append(client)
        return AuthenticationApi(client)

    yield make
    for client in clients:
        client.close()


def test_validate_accepts_an_api_key_as_datadog_does(
    http: httpx.Client, org: OrgKeys, authentication_api: Callable[[str], AuthenticationApi]
) -> None:
    response = http.get("/api/v1/validate", headers={"DD-API-KEY": org.api_key})
    assert response.status_code == 200
    assert response.json() == {"valid": True}
    assert authentication_api(org.api_key).validate().valid is True


@pytest.mark.parametrize("which", ["none", "wrong", "app key"])
def test_validate_refuses_anything_else(
    http: httpx.Client,
    org: OrgKeys,
    authentication_api: Callable[[str], AuthenticationApi],
    which: str,
) -> None:
    headers = {
        "none": {},
        "wrong": {"DD-API-KEY": "0" * 32},
        "app key": {"DD-API-KEY": org.app_key},
    }
    response = http.get("/api/v1/validate", headers=headers[which])
    assert response.status_code == 403
    assert response.json() == {"errors": ["Forbidden"]}
    if which != "none":
        with pytest.raises(ForbiddenException):
            authentication_api(headers[which]["DD-API-KEY"]).validate()
