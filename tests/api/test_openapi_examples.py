"""/openapi.json describes every route hamr serves, in each wire mode, and with `--emulator`
its admin API too; it is a valid OpenAPI document, and each operation's example request, sent
to a real `hamr serve --emulator`, gets an answer that validates against the operation's
response schema and has the shape of the operation's response example."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate
from starlette.applications import Starlette
from starlette.routing import Route

from hamr.bootstrap import create_app
from hamr.domain.model import KeyKind, Permission
from hamr.domain.rules import DEFAULT_DATACENTERS
from hamr.settings import Settings
from hamr.store.sql import open_store
from hamr.usecases.service import HamrService
from tests import local_http
from tests.conftest import ADMIN, EmulatorServer, sqlite_url

MODES = ["both", "contract", "live"]
# Every operation, in an order each one's example works in: a demo reset first, whose keys
# the API's operations use; the pair walked from PASSIVE and put back; a fault rule added,
# listed and removed; the state read and put back last.
ORDER = [
    ("post", "/_hamr/reset"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/openapi.json"),
    ("get", "/api/v1/validate"),
    ("get", "/api/v2/hamr"),
    ("post", "/api/v2/hamr"),
    ("get", "/api/v2/hamr/history"),
    ("get", "/api/v2/hamr/pair"),
    ("post", "/api/v2/hamr/pair/{operation}"),
    ("get", "/api/v2/hamr/datacenters/{datacenter}"),
    ("post", "/api/v2/hamr/datacenters/{datacenter}/{operation}"),
    ("get", "/api/v2/hamr/datacenters/{datacenter}/{operation}"),
    ("post", "/_hamr/pair"),
    ("get", "/_hamr/clock"),
    ("post", "/_hamr/clock"),
    ("post", "/_hamr/faults"),
    ("get", "/_hamr/faults"),
    ("delete", "/_hamr/faults/{rule_id}"),
    ("delete", "/_hamr/faults"),
    ("get", "/_hamr/state"),
    ("put", "/_hamr/state"),
    ("get", "/metrics"),
]
# Whose example is abridged: the document itself (validated whole above), by its members.
ABRIDGED = {("get", "/openapi.json")}


@pytest.fixture(scope="module", params=MODES)
def emulated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmulatorServer]:
    """An emulator in one wire mode, on a SQLite database of its own (its resets delete all)."""
    folder = tmp_path_factory.mktemp(f"openapi-{request.param}")
    running = EmulatorServer(
        sqlite_url(folder / "hamr.db"), folder / "server.log", "--wire", request.param
    )
    yield running.start()
    running.stop()


def served(server: EmulatorServer) -> dict[str, Any]:
    response = local_http.get(f"{server.url}/openapi.json", timeout=10)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method, path, operation


def success(operation: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The operation's first documented 2xx answer: the one its example request gets."""
    return next((c, r) for c, r in operation["responses"].items() if c[0] == "2")


def check(value: Any, schema: dict[str, Any], document: dict[str, Any]) -> None:
    """`value` validates against `schema` (OpenAPI 3.0: `nullable` is understood)."""
    OAS30Validator({"allOf": [schema], "components": document["components"]}).validate(value)


def shape(value: Any) -> Any:
    """Names and JSON types, recursively; a list by its first item."""
    if isinstance(value, dict):
        return {name: shape(item) for name, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


@pytest.mark.parametrize(
    "flags",
    [
        {"emulator": True, "admin_token": ADMIN["X-Hamr-Admin-Token"]},
        {},
        {"metrics_port": 9464, "wire": "live"},
    ],
    ids=["emulator", "server", "metrics-elsewhere"],
)
def test_the_document_describes_each_route_the_app_serves_and_no_other(
    tmp_path: Path, flags: dict[str, Any]
) -> None:
    """Every method of every route but the web page's (/ui), as the app is composed."""
    app = create_app(Settings(database_url=sqlite_url(tmp_path / "hamr.db"), **flags))
    try:
        inner: Any = app.asgi
        while not isinstance(inner, Starlette):
            inner = inner.app
        routed = {
            (method.lower(), route.path)
            for route in inner.routes
            if isinstance(route, Route) and not route.path.startswith("/ui")
            for method in route.methods or ()
            if method != "HEAD"
        }
        document = json.loads(app.state.openapi)
        assert {(method, path) for method, path, _ in operations(document)} == routed
    finally:
        app.store.close()


def test_the_document_is_valid_openapi_and_every_operation_has_examples(
    emulated: EmulatorServer,
) -> None:
    document = served(emulated)
    validate(document)
    assert {(method, path) for method, path, _ in operations(document)} == set(ORDER)
    for method, path, operation in operations(document):
        code, response = success(operation)
        for media in response.get("content", {}).values():
            check(media["example"], media["schema"], document)
        if code != "204":
            assert response["content"], (method, path)
        for media in operation.get("requestBody", {}).get("content", {}).values():
            check(media["example"], media["schema"], document)


def credentials(
    operation: dict[str, Any], keys: dict[str, str], admin_keys: dict[str, str]
) -> dict[str, str]:
    """What the operation's security asks for: nothing, the admin token, the API key alone,
    the org's two keys, or (`x-hamr-permission: admin`) the org's keys with an admin one."""
    security = operation.get("security", [{"apiKeyAuth": [], "appKeyAuth": []}])
    if not security:
        return {}
    if "adminToken" in security[0]:
        return ADMIN
    if operation.get("x-hamr-permission") == "admin":
        return admin_keys
    return {
        name: keys[name] for name in keys if name != "DD-APPLICATION-KEY" or len(security[0]) > 1
    }


def admin_key(server: EmulatorServer, org_uuid: str) -> str:
    """An admin application key of the org, made as an operator makes one."""
    store = open_store(server.database_url)
    try:
        service = HamrService(store.unit_of_work, store.view, frozenset(DEFAULT_DATACENTERS))
        return service.create_key(org_uuid, KeyKind.APP, Permission.ADMIN)[1]
    finally:
        store.close()


def test_each_example_request_gets_an_answer_of_the_examples_shape(
    emulated: EmulatorServer,
) -> None:
    document = served(emulated)
    keys: dict[str, str] = {}
    admin_keys: dict[str, str] = {}
    rule_id = ""
    with local_http.client(base_url=emulated.url, timeout=10) as http:
        for method, path in ORDER:
            operation = document["paths"][path][method]
            parameters = operation.get("parameters", [])
            url = path.replace("{rule_id}", rule_id)
            for parameter in parameters:
                if parameter["in"] == "path" and "example" in parameter:
                    url = url.replace(f"{{{parameter['name']}}}", parameter["example"])
            query = {
                p["name"]: p["example"] for p in parameters if p["in"] == "query" and "example" in p
            }
            body = operation.get("requestBody", {}).get("content", {})
            answer = http.request(
                method,
                url,
                params=query,
                json=body["application/json"]["example"] if body else None,
                headers=credentials(operation, keys, admin_keys),
            )
            code, documented = success(operation)
            assert str(answer.status_code) == code, (method, path, answer.text)
            if "content" not in documented:
                assert not answer.content
                continue
            ((content_type, media),) = documented["content"].items()
            assert answer.headers["content-type"].split(";")[0] == content_type, (method, path)
            if content_type == "text/plain":  # Prometheus' format: its first line's words
                assert answer.text.split()[:3] == media["example"].split()[:3]
                continue
            check(answer.json(), media["schema"], document)
            if (method, path) in ABRIDGED:
                assert answer.json().keys() == media["example"].keys()
            else:
                assert shape(answer.json()) == shape(media["example"]), (method, path)
            if path == "/_hamr/reset":
                org = answer.json()["data"]["attributes"]["orgs"][0]
                keys = {"DD-API-KEY": org["api_key"], "DD-APPLICATION-KEY": org["app_key"]}
                admin_keys = {**keys, "DD-APPLICATION-KEY": admin_key(emulated, org["uuid"])}
            if (method, path) == ("post", "/_hamr/faults"):
                rule_id = answer.json()["data"]["id"]
