"""hamr serves its own OpenAPI document, describing the wire format it runs with (`--wire`):
with `contract` it agrees with the contract for HAMR operations; the default, `both`, is the
contract with the live API's response attributes added; `live` is the live API's."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests import local_http
from tests.conftest import Admin, ServeProcess, connection_body

HAMR = "/api/v2/hamr"
# The paths hamr serves beyond the contract (tested in their own modules and, with their
# examples, in test_openapi_examples.py); the emulator's /_hamr/ paths only with --emulator.
HAMR_EXTENSIONS = {
    "/api/v2/hamr/history",
    "/api/v2/hamr/pair",
    "/api/v2/hamr/pair/{operation}",
    "/api/v2/hamr/datacenters/{datacenter}",
    "/api/v2/hamr/datacenters/{datacenter}/{operation}",
    "/api/v1/validate",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
}
# What hamr documents beyond the contract, because it returns them: oversized and non-JSON
# bodies, and an unreachable database; for POST, a refused or conflicting write (409), a failed
# If-Match or If-None-Match (412) and
# an Idempotency-Key reused for another request (422); and for GET, the 500 the contract lists
# only for POST.
EXTRA_CODES = {"get": {"500", "503"}, "post": {"409", "412", "413", "415", "422", "503"}}
# The live API's response attributes, in its order, with the shape each has there.
STRING = {"type": "string"}
LIVE_SHAPES = {
    "HamrStatus": {"type": "integer", "enum": [0, 1, 2, 3, 4, 5]},
    "IsPrimary": {"type": "boolean"},
    "ModifiedAt": STRING,
    "ModifiedBy": STRING,
    "OrgDatacenter": STRING,
    "TargetOrgDatacenter": STRING,
    "TargetOrgName": STRING,
    "TargetOrgUuid": STRING,
}
LIVE_ATTRIBUTES = tuple(LIVE_SHAPES)
MakeServer = Callable[[str], ServeProcess]


def openapi(server: ServeProcess) -> dict[str, Any]:
    response = local_http.get(f"{server.url}/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    document: dict[str, Any] = response.json()
    assert document["openapi"].startswith("3.")
    return document


def resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def shape(schema: dict[str, Any], document: dict[str, Any]) -> Any:
    """What must agree: types, enums, required fields and properties, recursively (lengths,
    patterns and descriptions may differ)."""
    schema = resolve(schema, document)
    found: dict[str, Any] = {"type": schema.get("type")}
    if "enum" in schema:
        found["enum"] = sorted(schema["enum"])
    if "required" in schema:
        found["required"] = sorted(schema["required"])
    if "properties" in schema:
        found["properties"] = {
            name: shape(part, document) for name, part in schema["properties"].items()
        }
    if "items" in schema:
        found["items"] = shape(schema["items"], document)
    return found


def body_shape(part: dict[str, Any], document: dict[str, Any], content_type: str = "") -> Any:
    """The shape of a request or response body; its content type must be `content_type`, or
    application/json when none is given."""
    (media_type,) = part["content"]
    assert media_type == (content_type or "application/json")
    return shape(part["content"][media_type]["schema"], document)


def responses(operation: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    return {
        code: body_shape(resolve(response, document) if "$ref" in response else response, document)
        for code, response in operation["responses"].items()
    }


def contract_response(response: dict[str, Any], contract: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in response:
        return contract["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]  # type: ignore[no-any-return]
    return response


def assert_agrees_with_the_contract(
    served: dict[str, Any],
    contract: dict[str, Any],
    success: Callable[[Any], Any] = lambda theirs: theirs,
    success_type: str = "",
) -> None:
    """`served` documents what the contract does for HAMR, and the codes hamr adds; the
    success bodies have the shape `success` makes of the contract's, as `success_type`."""
    assert served["components"]["securitySchemes"] == {
        name: {k: v for k, v in scheme.items() if k != "description"}
        for name, scheme in contract["components"]["securitySchemes"].items()
    }

    # The contract's paths exactly, and hamr's extensions, named here.
    assert served["paths"].keys() == contract["paths"].keys() | HAMR_EXTENSIONS
    for path, methods in contract["paths"].items():
        assert served["paths"][path].keys() == methods.keys()
        for method, expected in methods.items():
            ours = served["paths"][path][method]
            assert ours["operationId"] == expected["operationId"]
            codes = set(ours["responses"]) - set(expected["responses"])
            assert codes == EXTRA_CODES[method]
            assert set(expected["responses"]) <= set(ours["responses"])
            for code, their_response in expected["responses"].items():
                theirs = body_shape(contract_response(their_response, contract), contract)
                if code == "200":
                    found = body_shape(ours["responses"][code], served, success_type)
                    assert found == success(theirs), (method, code)
                else:
                    assert body_shape(ours["responses"][code], served) == theirs, (method, code)
            if "requestBody" in expected:
                assert ours["requestBody"]["required"] is True
                assert body_shape(ours["requestBody"], served) == body_shape(
                    expected["requestBody"], contract
                )


def attributes_schema(served: dict[str, Any]) -> dict[str, Any]:
    data = resolve(served["components"]["schemas"]["HamrOrgConnectionResponse"], served)
    data = resolve(data["properties"]["data"], served)
    return resolve(data["properties"]["attributes"], served)


def with_attributes(shape_of_response: Any, attributes: dict[str, Any]) -> Any:
    """A response shape whose attributes are exactly `attributes`, all required."""
    changed = copy.deepcopy(shape_of_response)
    target = changed["properties"]["data"]["properties"]["attributes"]
    target["properties"] = attributes
    target["required"] = sorted(attributes)
    return changed


def test_openapi_json_with_wire_contract_agrees_with_the_contract(
    wire: MakeServer, contract: dict[str, Any]
) -> None:
    assert_agrees_with_the_contract(openapi(wire("contract")), contract)


def test_openapi_json_by_default_is_the_contracts_with_the_live_attributes_added(
    wire: MakeServer, contract: dict[str, Any]
) -> None:
    """`both`: a response's attributes are the contract's seven then the live eight, each
    required; everything else, the request included, is the contract's."""
    served = openapi(wire("both"))

    def plus_live(theirs: Any) -> Any:
        attributes = theirs["properties"]["data"]["properties"]["attributes"]["properties"]
        return with_attributes(theirs, {**attributes, **LIVE_SHAPES})

    assert_agrees_with_the_contract(served, contract, plus_live)
    contract_seven = list(attributes_schema(contract)["properties"])
    assert len(contract_seven) == 7
    assert list(attributes_schema(served)["properties"]) == [*contract_seven, *LIVE_ATTRIBUTES]
    assert attributes_schema(served)["required"] == [*contract_seven, *LIVE_ATTRIBUTES]


def test_openapi_json_with_wire_live_describes_the_live_api(
    wire: MakeServer, contract: dict[str, Any]
) -> None:
    """`live`: the live eight alone, as application/vnd.api+json, and the 401 an invalid API
    key gets there (on top of the codes hamr always adds)."""
    served = openapi(wire("live"))
    for method in ("get", "post"):
        responses = served["paths"][HAMR][method]["responses"]
        assert body_shape(responses["401"], served) == shape(
            contract["components"]["schemas"]["APIErrorResponse"], contract
        )
        del responses["401"]
    assert_agrees_with_the_contract(
        served,
        contract,
        lambda theirs: with_attributes(theirs, LIVE_SHAPES),
        "application/vnd.api+json",
    )
    assert list(attributes_schema(served)["properties"]) == list(LIVE_ATTRIBUTES)


@pytest.mark.parametrize("mode", ["both", "contract", "live"])
def test_what_is_served_validates_against_the_served_document(
    wire: MakeServer, admin: Admin, mode: str
) -> None:
    org, partner = admin.create_org("us1"), admin.create_org("eu1")
    running = wire(mode)
    served = openapi(running)
    operations = served["paths"][HAMR]

    def validator(name: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": f"#/components/schemas/{name}", "components": served["components"]}
        )

    def documented(response: httpx.Response, method: str, schema: str) -> None:
        """Validates against `schema`, which the document names for its status and type."""
        (content_type,) = operations[method]["responses"][str(response.status_code)]["content"]
        assert response.headers["content-type"] == content_type
        validator(schema).validate(response.json())

    with local_http.client(base_url=running.url, timeout=10) as http:
        body = connection_body(org, partner)
        validator("HamrOrgConnectionRequest").validate(body)
        written = http.post(HAMR, json=body, headers=org.headers)
        assert written.status_code == 200, written.text
        documented(written, "post", "HamrOrgConnectionResponse")
        documented(http.get(HAMR, headers=org.headers), "get", "HamrOrgConnectionResponse")
        documented(http.get(HAMR, headers=partner.headers), "get", "HamrOrgConnectionResponse")
        documented(http.get(HAMR), "get", "JSONAPIErrorResponse")
        wrong_key = {**org.headers, "DD-API-KEY": "0" * 32}
        refused = http.get(HAMR, headers=wrong_key)
        assert refused.status_code == (401 if mode == "live" else 403)
        documented(refused, "get", "APIErrorResponse" if mode == "live" else "JSONAPIErrorResponse")
        bad = connection_body(org, partner, hamr_status=9)
        assert list(validator("HamrOrgConnectionRequest").iter_errors(bad))
        rejected = http.post(HAMR, json=bad, headers=org.headers)
        assert rejected.status_code == 400
        documented(rejected, "post", "JSONAPIErrorResponse")
