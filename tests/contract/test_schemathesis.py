"""Schemathesis against a real `hamr serve` on a socket, with every one of its checks enabled:
server errors, status codes, content types, response schemas and headers, positive data
accepted, negative data rejected, missing headers, ignored authentication, unsupported methods
and their Allow header, response time; plus hamr's own (a JSON:API error for every refusal, a
POST's 200 echoes what was sent, GET returns the last acknowledged POST, a refused request
changes nothing, and every 200, in hamr's default `--wire both`, carries the contract's seven
attributes followed by the live API's eight saying the same).

Driven by the contract (../shared/spec/hamr-v2.openapi.yaml), which is the truth for the two
operations, plus the two statuses hamr documents beyond it; and again by the document hamr
serves at /openapi.json, whose stricter string rules (1 to 255 characters, not blank) make
schemathesis generate the bodies hamr must refuse for them.

`HAMR_FUZZ_EXAMPLES` (default 200) is the number of generated examples per operation and
generation mode; the seed is fixed (`HAMR_FUZZ_SEED`), so a run is reproducible.
"""

from __future__ import annotations

import copy
import os
import zlib
from collections.abc import Callable
from typing import Any

import pydantic_core
import schemathesis
import yaml
from schemathesis.core.parameters import ParameterLocation

from hamr.api.openapi import openapi_document
from hamr.api.wire import LIVE_ATTRIBUTES, WireFormat
from hamr.domain.rules import MAX_TEXT_LENGTH, is_uuid
from tests.conftest import ATTRIBUTE_NAMES, SPEC
from tests.contract.conftest import (
    ORG_DATACENTER,
    ORG_UUID,
    PARTNER_DATACENTERS,
    PATH,
    RATE_LIMIT,
    RATE_PERIOD,
    SEED,
    Limited,
    Target,
    assert_both_spellings,
)

Case = schemathesis.Case[Any]
Check = Callable[[Any, Any, Case], None]
EXAMPLES = int(os.environ.get("HAMR_FUZZ_EXAMPLES", "200"))
CREDENTIAL_HEADERS = frozenset({"dd-api-key", "dd-application-key", "authorization"})
AUTH_HEADERS = {"DD-API-KEY", "DD-APPLICATION-KEY", "Authorization"}


def settings(
    *, positive: list[str], negative: list[str], made_up_credentials: bool = False
) -> schemathesis.Config:
    """Every check, with the statuses a schema-valid (`positive`) and a schema-violating
    (`negative`) request may get."""
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "suppress-health-check": ["all"],
            "generation": {
                "mode": "all",
                "max-examples": EXAMPLES,
                "deterministic": True,
                "database": "none",
                # With valid keys, the test sends them and nothing else; without, schemathesis
                # also makes up credentials of its own.
                "with-security-parameters": made_up_credentials,
            },
            "checks": {
                "enabled": True,
                "positive_data_acceptance": {"expected-statuses": positive},
                "negative_data_rejection": {"expected-statuses": negative},
                "max_response_time": 10.0,
            },
        }
    )


# With valid keys every schema-valid request is answered 200 (GET: 404 before the first POST),
# and every schema-violating one 400: the contract has no other status for a bad body.
# (Schemathesis' probes with a non-JSON Content-Type, which are neither, may get a 415.)
WITH_VALID_KEYS = settings(positive=["200", "404"], negative=["400"])
# hamr's own document adds POST's If-Match, If-None-Match and Idempotency-Key: a request may
# also fail its precondition (412), or reuse a key for another body (422, checked before the
# body is: a retry is recognised by its bytes).
SERVED_WITH_VALID_KEYS = settings(positive=["200", "404", "412", "422"], negative=["400", "422"])
# Without valid keys, everything is 403.
WITHOUT_VALID_KEYS = settings(positive=["403"], negative=["403"], made_up_credentials=True)
# Over a rate limit, everything is 429, except the few requests before the limit is reached.
RATE_LIMITED = settings(positive=["200", "403", "404", "429"], negative=["400", "403", "429"])


def contract_document() -> dict[str, Any]:
    """The contract, and the two statuses hamr documents beyond it for POST, both for requests
    Datadog's clients never send (a body over 64 KiB; one not declared as JSON, or in an
    unsupported Content-Encoding) and which schemathesis probes."""
    with SPEC.open() as spec:
        document: dict[str, Any] = yaml.safe_load(spec)
    responses = document["paths"][PATH]["post"]["responses"]
    error = {"$ref": "#/components/schemas/JSONAPIErrorResponse"}
    for code, description in (("413", "Payload Too Large"), ("415", "Unsupported Media Type")):
        responses[code] = {
            "description": description,
            "content": {"application/json": {"schema": error}},
        }
    return document


contract = schemathesis.openapi.from_dict(contract_document(), config=WITH_VALID_KEYS)
contract_without_keys = schemathesis.openapi.from_dict(
    contract_document(), config=WITHOUT_VALID_KEYS
)
contract_rate_limited = schemathesis.openapi.from_dict(contract_document(), config=RATE_LIMITED)
# The target's server runs in hamr's default wire mode, `both`, and publishes that mode's document.
WIRE = WireFormat.named("both")
# Its connection and history paths: the pair operations, which change the pair this module's
# ledger follows, are fuzzed on an emulator of their own (tests/api/test_openapi_fuzz.py).
served = schemathesis.openapi.from_dict(
    copy.deepcopy(openapi_document(WIRE)), config=SERVED_WITH_VALID_KEYS
).include(path_regex=r"^/api/v2/hamr(/history)?$")


def _pick(seed: object, choices: tuple[str, ...]) -> str:
    return choices[zlib.crc32(repr(seed).encode()) % len(choices)]


def as_the_caller(_context: Any, case: Case) -> Case:
    """A schema-valid POST body is made valid for hamr too: no schema can say that `data.id` is
    the caller's organization, that the partner is in a known datacenter other than the
    caller's, or that `target_org_uuid` is a UUID not the caller's own. Nor does the contract
    say that strings are 1 to 255 characters, not blank and without NUL, which hamr requires;
    hamr's own document does, and fuzzing with it covers those refusals. The replacement values
    are derived from the generated ones, so the run stays deterministic."""
    body: Any = case.body
    if case.method.upper() != "POST" or not isinstance(body, dict):
        return case
    if case.meta is not None and case.meta.is_negative_at(ParameterLocation.BODY):
        return case
    data = body.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("attributes"), dict):
        return case
    attributes = data["attributes"]
    # An extra property the contract allows may be named as one of the live API's attributes
    # (the generator draws names from strings in loaded code): hamr reads those as that
    # attribute, with its type and its agreement with the contract's spelling, which the wire
    # tests cover. Here they go, so a schema-valid body stays valid for hamr.
    for live in LIVE_ATTRIBUTES:
        attributes.pop(live, None)
    data["id"] = ORG_UUID
    datacenter = attributes.get("target_org_datacenter")
    if datacenter not in PARTNER_DATACENTERS:
        attributes["target_org_datacenter"] = _pick(datacenter, PARTNER_DATACENTERS)
    partner = attributes.get("target_org_uuid")
    if not (isinstance(partner, str) and is_uuid(partner) and partner.lower() != ORG_UUID):
        attributes["target_org_uuid"] = (
            f"{zlib.crc32(repr(partner).encode()):08x}-5f00-4000-8000-0000000000a1"
        )
    for name in ("modified_by", "target_org_name"):
        value = attributes.get(name)
        if isinstance(value, str):
            # hamr refuses NUL on both backends, as PostgreSQL cannot store it (see
            # test_regressions); the contract does not say so.
            value = value.replace("\x00", "")
            if not value.strip() or len(value) > MAX_TEXT_LENGTH:
                value = (value.strip() or "sre@example.com")[:MAX_TEXT_LENGTH]
            attributes[name] = value
    return case


for schema in (contract, contract_without_keys, contract_rate_limited, served):
    schema.hook("map_case")(as_the_caller)


# -- hamr's own checks, run after schemathesis' on every response ------------------------------


def error_document(response: Any, *, auth: bool) -> None:
    """Every refusal is a JSON:API error document whose items repeat the status; an
    authentication failure names the header to fix."""
    document = response.json()
    items = document["errors"]
    assert items, f"an error document without errors: {document}"
    for item in items:
        assert item["status"] == str(response.status_code), item
        assert item["title"], item
        assert item["detail"], item
        if auth:
            assert item["source"]["header"] in AUTH_HEADERS, item


def hamr_checks(target: Target, *, valid_keys: bool) -> Check:
    ledger = target.ledger

    def check(_ctx: Any, response: Any, case: Case) -> None:
        status = response.status_code
        method = case.method.upper()
        if case.path != PATH:
            extension_checks(ledger, response, case, valid_keys=valid_keys)
            return
        ledger.count(f"{method} {status}")
        # A dry run stores nothing; a replay is an earlier answer, to the same body, again.
        rehearsed = response.headers.get("x-hamr-dry-run") == ["true"]
        replayed = response.headers.get("idempotency-replayed") == ["true"]
        if status >= 400:
            error_document(response, auth=status == 403 and not valid_keys)
        if method == "POST" and status == 200:
            assert valid_keys, "a POST without valid credentials was accepted"
            document = response.json()
            sent: Any = case.body
            sent = sent["data"]
            assert document["data"]["id"] == ORG_UUID
            assert document["data"]["type"] == "hamr_org_connections"
            got = document["data"]["attributes"]
            echoed = {name: sent["attributes"][name] for name in ATTRIBUTE_NAMES}
            # The partner is one hamr does not know (see as_the_caller): stored as named.
            assert {name: got[name] for name in ATTRIBUTE_NAMES} == echoed
            assert_both_spellings(document, ORG_DATACENTER)
            if rehearsed or replayed:
                ledger.expect_unchanged()
            else:
                ledger.acknowledged(document)
        elif method == "GET" and status in (200, 404):
            assert valid_keys, "a GET without valid credentials was answered"
            assert (response.json() if status == 200 else None) == ledger.current
            if status == 200:
                assert_both_spellings(response.json(), ORG_DATACENTER)
        else:
            ledger.expect_unchanged()

    return check


def extension_checks(ledger: Any, response: Any, case: Case, *, valid_keys: bool) -> None:
    """hamr's own paths (the served document's GET /api/v2/hamr/history): a refusal is a
    JSON:API error, a page lists events newest first, each once, and nothing changes."""
    status = response.status_code
    ledger.count(f"{case.method.upper()} {case.path} {status}")
    if status >= 400:
        error_document(response, auth=status == 403 and not valid_keys)
    elif status == 200:
        assert valid_keys, "a request without valid credentials was answered"
        ids = [int(item["id"]) for item in response.json()["data"]]
        assert ids == sorted(set(ids), reverse=True), ids
    ledger.expect_unchanged()


@contract.parametrize()
def test_contract_with_valid_keys(case: Case, target: Target) -> None:
    case.call_and_validate(
        base_url=target.server.url,
        headers=target.keys.headers,
        additional_checks=[hamr_checks(target, valid_keys=True)],
    )


@served.parametrize()
def test_served_openapi_with_valid_keys(case: Case, target: Target) -> None:
    case.call_and_validate(
        base_url=target.server.url,
        headers=target.keys.headers,
        additional_checks=[hamr_checks(target, valid_keys=True)],
    )


def test_served_openapi_is_what_was_fuzzed(target: Target) -> None:
    """`served` was built in-process; it is byte for byte what the server publishes."""
    response = target.ledger.http.get("/openapi.json")
    assert response.status_code == 200
    assert response.content == pydantic_core.to_json(openapi_document(WIRE))


# -- without valid credentials -----------------------------------------------------------------

Credentials = Callable[[Target, dict[str, str]], dict[str, str]]


def _headers(**named: str) -> Credentials:
    def make(target: Target, generated: dict[str, str]) -> dict[str, str]:
        del target, generated
        return dict(named)

    return make


WRONG_CREDENTIALS: dict[str, Credentials] = {
    # What schemathesis made up, as it made it up (or left out).
    "generated": lambda _target, generated: generated,
    "none": _headers(),
    "api key only": lambda t, _: {"DD-API-KEY": t.keys.api_key},
    "application key only": lambda t, _: {"DD-APPLICATION-KEY": t.keys.app_key},
    "unknown api key": lambda t, _: {"DD-API-KEY": "0" * 32, "DD-APPLICATION-KEY": t.keys.app_key},
    "unknown application key": lambda t, _: {
        "DD-API-KEY": t.keys.api_key,
        "DD-APPLICATION-KEY": "0" * 40,
    },
    "keys swapped": lambda t, _: {
        "DD-API-KEY": t.keys.app_key,
        "DD-APPLICATION-KEY": t.keys.api_key,
    },
    "application key of another org": lambda t, _: {
        "DD-API-KEY": t.keys.api_key,
        "DD-APPLICATION-KEY": t.other.app_key,
    },
    "api key of another org": lambda t, _: {
        "DD-API-KEY": t.other.api_key,
        "DD-APPLICATION-KEY": t.keys.app_key,
    },
    "revoked keys": lambda t, _: t.revoked.headers,
    "revoked api key": lambda t, _: {
        "DD-API-KEY": t.revoked.api_key,
        "DD-APPLICATION-KEY": t.keys.app_key,
    },
    "revoked application key": lambda t, _: {
        "DD-API-KEY": t.keys.api_key,
        "DD-APPLICATION-KEY": t.revoked.app_key,
    },
    "unknown bearer token": _headers(Authorization="Bearer " + "0" * 40),
    "revoked bearer token": lambda t, _: {"Authorization": f"Bearer {t.revoked_token}"},
    "empty bearer token": _headers(Authorization="Bearer "),
    "api key as bearer token": lambda t, _: {"Authorization": f"Bearer {t.keys.api_key}"},
    "basic authorization": lambda t, _: {"Authorization": f"Basic {t.keys.api_key}"},
    "token as api key": lambda t, _: {
        "DD-API-KEY": t.token,
        "DD-APPLICATION-KEY": t.keys.app_key,
    },
}
SCENARIOS = tuple(WRONG_CREDENTIALS)


@contract_without_keys.parametrize()
def test_contract_without_valid_keys(case: Case, target: Target) -> None:
    """Everything is 403, whatever the body, and nothing changes. Each case gets the next
    of the wrong credentials in turn (a fixed order: the run stays deterministic)."""
    name = SCENARIOS[target.ledger.turn % len(SCENARIOS)]
    target.ledger.turn += 1
    generated: dict[str, str] = {}
    for key in [key for key in case.headers or {} if key.lower() in CREDENTIAL_HEADERS]:
        generated[key] = case.headers.pop(key)
    headers = WRONG_CREDENTIALS[name](target, generated)
    response = case.call_and_validate(
        base_url=target.server.url,
        headers=headers,
        additional_checks=[hamr_checks(target, valid_keys=False)],
    )
    if response.status_code != 405:
        assert response.status_code == 403, (name, response.status_code, response.text)


# -- over the rate limits ----------------------------------------------------------------------


def rate_limit_checks(limited: Limited, bucket: str) -> Check:
    """Every HAMR response says where its caller stands (Datadog's X-RateLimit-* headers);
    past the limit, it is a 429 in Datadog's older error format."""

    def check(_ctx: Any, response: Any, case: Case) -> None:
        if response.status_code == 405:  # refused by the router, before anyone is counted
            return
        headers = response.headers
        assert headers["x-ratelimit-name"] == [bucket], headers
        assert headers["x-ratelimit-limit"] == [str(RATE_LIMIT)], headers
        assert headers["x-ratelimit-period"] == [str(RATE_PERIOD)], headers
        remaining = int(headers["x-ratelimit-remaining"][0])
        assert 0 <= int(headers["x-ratelimit-reset"][0]) <= RATE_PERIOD, headers
        if response.status_code == 429:
            assert remaining == 0, headers
            assert response.json() == {"errors": ["Too many requests"]}
            limited.throttled += 1
        else:
            admitted = limited.admitted[bucket] = limited.admitted.get(bucket, 0) + 1
            # At most one calendar window may have begun during the run.
            assert admitted <= 2 * RATE_LIMIT, (bucket, admitted, response.status_code)

    return check


@contract_rate_limited.parametrize()
def test_contract_over_the_rate_limits(case: Case, limited: Limited) -> None:
    """Valid keys and unknown ones in turn, against three requests a day per bucket: nearly
    every answer is a 429 as the contract describes it, and a 429 changes nothing."""
    limited.requests += 1
    if limited.requests % 2:
        headers, bucket = limited.keys.headers, f"hamr_{case.method.lower()}"
    else:
        headers = {"DD-API-KEY": "0" * 32, "DD-APPLICATION-KEY": "0" * 40}
        bucket = "hamr_unauthenticated"
    before = limited.admin.snapshot(ORG_UUID)
    response = case.call_and_validate(
        base_url=limited.server.url,
        headers=headers,
        additional_checks=[rate_limit_checks(limited, bucket)],
    )
    if response.status_code != 200 or case.method.upper() != "POST":
        assert limited.admin.snapshot(ORG_UUID) == before


def test_every_outcome_was_reached(target: Target) -> None:
    """The runs above (this module, in order) reached every outcome: accepted writes, refused
    bodies and credentials, the 404 before the first write, unsupported methods."""
    assert target.ledger.accepted >= EXAMPLES // 4
    for outcome in ("GET 404", "GET 200", "POST 200", "POST 400", "GET 403", "POST 403"):
        assert target.ledger.statuses.get(outcome, 0) > 0, (outcome, target.ledger.statuses)


def test_every_rate_limit_was_reached(limited: Limited) -> None:
    """The run over the rate limits (above) met all three buckets, and mostly their limits."""
    assert set(limited.admitted) == {"hamr_get", "hamr_post", "hamr_unauthenticated"}
    assert limited.throttled >= EXAMPLES // 2
