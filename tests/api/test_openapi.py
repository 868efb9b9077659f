"""hamr serves its own OpenAPI document, and it agrees with the contract for HAMR operations."""

from __future__ import annotations

from typing import Any

import httpx
from jsonschema import Draft202012Validator

from tests.conftest import OrgKeys, connection_body

HAMR = "/api/v2/hamr"
# What hamr documents beyond the contract, because it returns them: oversized and non-JSON
# bodies, and an unreachable database; and for GET, the 500 the contract lists only for POST.
EXTRA_CODES = {"get": {"500", "503"}, "post": {"413", "415", "503"}}


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


def body_shape(part: dict[str, Any], document: dict[str, Any]) -> Any:
    return shape(part["content"]["application/json"]["schema"], document)


def responses(operation: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    return {
        code: body_shape(resolve(response, document) if "$ref" in response else response, document)
        for code, response in operation["responses"].items()
    }


def contract_response(response: dict[str, Any], contract: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in response:
        return contract["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]  # type: ignore[no-any-return]
    return response


def test_openapi_json_agrees_with_the_contract(
    http: httpx.Client, contract: dict[str, Any]
) -> None:
    response = http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    served = response.json()
    assert served["openapi"].startswith("3.")
    assert served["components"]["securitySchemes"] == {
        name: {k: v for k, v in scheme.items() if k != "description"}
        for name, scheme in contract["components"]["securitySchemes"].items()
    }

    assert served["paths"].keys() == contract["paths"].keys()
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
                assert body_shape(ours["responses"][code], served) == theirs, (method, code)
            if "requestBody" in expected:
                assert ours["requestBody"]["required"] is True
                assert body_shape(ours["requestBody"], served) == body_shape(
                    expected["requestBody"], contract
                )


def test_what_is_served_validates_against_the_served_document(
    http: httpx.Client, org: OrgKeys, partner: OrgKeys
) -> None:
    served = http.get("/openapi.json").json()

    def validator(name: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": f"#/components/schemas/{name}", "components": served["components"]}
        )

    body = connection_body(org, partner)
    validator("HamrOrgConnectionRequest").validate(body)
    written = http.post(HAMR, json=body, headers=org.headers)
    validator("HamrOrgConnectionResponse").validate(written.json())
    validator("HamrOrgConnectionResponse").validate(http.get(HAMR, headers=org.headers).json())
    validator("JSONAPIErrorResponse").validate(http.get(HAMR).json())
    bad = connection_body(org, partner, hamr_status=9)
    assert list(validator("HamrOrgConnectionRequest").iter_errors(bad))
    assert http.post(HAMR, json=bad, headers=org.headers).status_code == 400
