"""Every bad POST body is refused with one JSON:API error per mistake, each naming its field by
JSON pointer and saying what is allowed, and nothing is stored; harmless extras are ignored."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests import local_http
from tests.conftest import (
    ATTRIBUTE_NAMES,
    Admin,
    OrgKeys,
    ServeProcess,
    connection_body,
    unknown_org,
)

PATH = "/api/v2/hamr"
ATTRIBUTES = "/data/attributes"
TEXT_FIELDS = ("modified_by", "target_org_name", "target_org_uuid", "target_org_datacenter")

# The live API's spelling of each request attribute, which hamr accepts as well.
PASCAL_CASE = {
    "hamr_status": "HamrStatus",
    "is_primary": "IsPrimary",
    "modified_by": "ModifiedBy",
    "target_org_datacenter": "TargetOrgDatacenter",
    "target_org_name": "TargetOrgName",
    "target_org_uuid": "TargetOrgUuid",
}
# What a response carries in the default wire format (`both`): the contract's attributes,
# then the live API's.
CONTRACT_ATTRIBUTES = (
    "hamr_status",
    "is_primary",
    "modified_at",
    "modified_by",
    "target_org_datacenter",
    "target_org_name",
    "target_org_uuid",
)
LIVE_ATTRIBUTES = (
    "HamrStatus",
    "IsPrimary",
    "ModifiedAt",
    "ModifiedBy",
    "OrgDatacenter",
    "TargetOrgDatacenter",
    "TargetOrgName",
    "TargetOrgUuid",
)
# A target hamr does not know must be named in full.
UNKNOWN_TARGET = "is not an organization this hamr knows"

# What each field's error detail must say about what is allowed (any one of these).
HINTS: dict[str, tuple[str, ...]] = {
    "": ("JSON object",),
    "/data": ("must be an object",),
    "/data/id": ("UUID",),
    "/data/type": ('"hamr_org_connections"',),
    ATTRIBUTES: ("must be an object",),
    f"{ATTRIBUTES}/hamr_status": ("integer 0 to 5",),
    f"{ATTRIBUTES}/is_primary": ("true or false",),
    f"{ATTRIBUTES}/modified_by": ("1 to 255 characters",),
    f"{ATTRIBUTES}/target_org_name": ("1 to 255 characters", UNKNOWN_TARGET),
    f"{ATTRIBUTES}/target_org_uuid": ("UUID",),
    # Naming your own datacenter is refused for a different reason than an unknown one.
    f"{ATTRIBUTES}/target_org_datacenter": (
        "one of: ap1, ap2, eu1, uk1, us1",
        "must be in another datacenter",
        UNKNOWN_TARGET,
    ),
}
# A mistake in an attribute spelled as the live API spells it is pointed at in that spelling.
HINTS.update(
    {
        f"{ATTRIBUTES}/{pascal}": HINTS[f"{ATTRIBUTES}/{snake}"]
        for snake, pascal in PASCAL_CASE.items()
    }
)

Body = dict[str, Any]
Mutation = Callable[[Body, OrgKeys], None]


def without(*path: str) -> Mutation:
    """Delete the member at `path` (e.g. "data", "attributes", "hamr_status")."""

    def mutate(body: Body, _caller: OrgKeys) -> None:
        parent: Any = body
        for part in path[:-1]:
            parent = parent[part]
        del parent[path[-1]]

    return mutate


def setting(value: Any, *path: str) -> Mutation:
    """Set the member at `path`; a callable value is given the caller first."""

    def mutate(body: Body, caller: OrgKeys) -> None:
        parent: Any = body
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = value(caller) if callable(value) else value

    return mutate


def attribute(name: str, value: Any) -> Mutation:
    return setting(value, "data", "attributes", name)


def post(http: httpx.Client, caller: OrgKeys, body: Any) -> httpx.Response:
    return http.post(PATH, json=body, headers=caller.headers)


def assert_errors(
    response: httpx.Response,
    status: int,
    pointers: list[str],
    hints: dict[str, tuple[str, ...]] = HINTS,
) -> list[Any]:
    """`status`, and exactly one JSON:API error item per expected pointer, each complete (and
    for a 400, saying what its field allows: one of `hints[pointer]`)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert set(document) == {"errors"}
    items = document["errors"]
    assert sorted(item.get("source", {}).get("pointer") for item in items) == sorted(pointers), (
        items
    )
    for item in items:
        assert item["status"] == str(status)
        assert isinstance(item["title"], str)
        assert item["title"]
        assert isinstance(item["detail"], str)
        assert item["detail"].strip()
        assert set(item["source"]) == {"pointer"}
        if status == 400:
            allowed = hints[item["source"]["pointer"]]
            assert any(hint in item["detail"] for hint in allowed), item
    return list(items)


PRIOR = ["no_connection_yet", "connection_stored"]


def _prepare(http: httpx.Client, caller: OrgKeys, partner: OrgKeys, prior: str) -> OrgKeys:
    if prior == "connection_stored":
        stored = post(http, caller, connection_body(caller, partner, hamr_status=1))
        assert stored.status_code == 200, stored.text
    return caller


@pytest.fixture(scope="module")
def partner() -> OrgKeys:
    """One eu1 partner for the whole module, one hamr does not know: every caller here may
    name it without pairing with it."""
    return unknown_org("eu1")


@pytest.fixture(scope="module")
def known(admin: Admin) -> OrgKeys:
    """An eu1 org hamr knows, which no test here connects to: writing its side is refused."""
    return admin.create_org("eu1")


@pytest.fixture(scope="module")
def http(server: ServeProcess) -> Iterator[httpx.Client]:
    """One client for the module (making one per test costs more than the tests)."""
    with local_http.client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture(scope="module", params=PRIOR)
def caller(
    request: pytest.FixtureRequest, admin: Admin, http: httpx.Client, partner: OrgKeys
) -> OrgKeys:
    """A us1 org, with or without a stored connection (so "nothing changed" means something),
    shared by the tests that expect a refusal: each checks its own request changed nothing."""
    return _prepare(http, admin.create_org("us1"), partner, request.param)


@pytest.fixture(params=PRIOR)
def fresh_caller(
    request: pytest.FixtureRequest, http: httpx.Client, org: OrgKeys, partner: OrgKeys
) -> OrgKeys:
    """A fresh us1 org, with or without a stored connection, for requests that must succeed."""
    return _prepare(http, org, partner, request.param)


MISSING = [
    pytest.param(without("data"), "/data", id="missing-data"),
    pytest.param(without("data", "id"), "/data/id", id="missing-data.id"),
    pytest.param(without("data", "type"), "/data/type", id="missing-data.type"),
    pytest.param(without("data", "attributes"), ATTRIBUTES, id="missing-data.attributes"),
    *(
        pytest.param(
            without("data", "attributes", name), f"{ATTRIBUTES}/{name}", id=f"missing-{name}"
        )
        for name in ATTRIBUTE_NAMES
    ),
]

WRONG_SHAPES = [
    pytest.param(setting(None, "data"), "/data", id="data-null"),
    pytest.param(setting([], "data"), "/data", id="data-array"),
    pytest.param(setting("x", "data"), "/data", id="data-string"),
    pytest.param(setting(None, "data", "attributes"), ATTRIBUTES, id="attributes-null"),
    pytest.param(setting([1], "data", "attributes"), ATTRIBUTES, id="attributes-array"),
    pytest.param(setting(42, "data", "id"), "/data/id", id="data.id-number"),
    pytest.param(setting(None, "data", "id"), "/data/id", id="data.id-null"),
    pytest.param(setting("", "data", "id"), "/data/id", id="data.id-empty"),
    pytest.param(setting("foo", "data", "type"), "/data/type", id="type-foo"),
    pytest.param(setting("HAMR_ORG_CONNECTIONS", "data", "type"), "/data/type", id="type-upper"),
    pytest.param(setting(None, "data", "type"), "/data/type", id="type-null"),
]

BAD_VALUES = [
    *(
        pytest.param(attribute("hamr_status", value), f"{ATTRIBUTES}/hamr_status", id=name)
        for name, value in [
            ("hamr_status-string-4", "4"),
            ("hamr_status-true", True),
            ("hamr_status-4.5", 4.5),
            ("hamr_status-null", None),
            ("hamr_status--1", -1),
            ("hamr_status-6", 6),
            ("hamr_status-huge", 2**70),
        ]
    ),
    *(
        pytest.param(attribute("is_primary", value), f"{ATTRIBUTES}/is_primary", id=name)
        for name, value in [
            ("is_primary-string-true", "true"),
            ("is_primary-1", 1),
            ("is_primary-null", None),
        ]
    ),
    *(
        pytest.param(attribute(field, value), f"{ATTRIBUTES}/{field}", id=f"{field}-{name}")
        for field in TEXT_FIELDS
        for name, value in [
            ("empty", ""),
            ("blank", " \t "),
            ("256-chars", "a" * 256),
            ("number", 7),
            ("null", None),
        ]
    ),
    pytest.param(
        attribute("target_org_uuid", "not-a-uuid"),
        f"{ATTRIBUTES}/target_org_uuid",
        id="target_org_uuid-not-a-uuid",
    ),
    pytest.param(
        attribute("target_org_uuid", "660f9511f3ac52e5b827557766551111"),
        f"{ATTRIBUTES}/target_org_uuid",
        id="target_org_uuid-without-hyphens",
    ),
    pytest.param(
        attribute("target_org_uuid", lambda caller: caller.uuid),
        f"{ATTRIBUTES}/target_org_uuid",
        id="target_org_uuid-own",
    ),
    pytest.param(
        attribute("target_org_uuid", lambda caller: caller.uuid.upper()),
        f"{ATTRIBUTES}/target_org_uuid",
        id="target_org_uuid-own-upper-case",
    ),
    pytest.param(
        attribute("target_org_datacenter", "mars"),
        f"{ATTRIBUTES}/target_org_datacenter",
        id="target_org_datacenter-mars",
    ),
    pytest.param(
        attribute("target_org_datacenter", "EU1"),
        f"{ATTRIBUTES}/target_org_datacenter",
        id="target_org_datacenter-upper-case",
    ),
    pytest.param(
        attribute("target_org_datacenter", "us1"),
        f"{ATTRIBUTES}/target_org_datacenter",
        id="target_org_datacenter-own",
    ),
]


@pytest.mark.parametrize(("mutate", "pointer"), MISSING + WRONG_SHAPES + BAD_VALUES)
def test_one_mistake_is_one_400_naming_its_field(
    http: httpx.Client,
    admin: Admin,
    caller: OrgKeys,
    partner: OrgKeys,
    mutate: Mutation,
    pointer: str,
) -> None:
    body = connection_body(caller, partner)
    mutate(body, caller)
    before = admin.snapshot(caller.uuid)

    response = post(http, caller, body)

    [item] = assert_errors(response, 400, [pointer])
    assert item["title"] == "Bad Request"
    assert admin.snapshot(caller.uuid) == before


def test_own_uuid_and_own_datacenter_details_say_why(
    http: httpx.Client, caller: OrgKeys, partner: OrgKeys
) -> None:
    """Naming yourself as partner is refused with a reason, not a bare "invalid"."""
    body = connection_body(
        caller, partner, target_org_uuid=caller.uuid, target_org_datacenter="us1"
    )
    items = assert_errors(
        post(http, caller, body),
        400,
        [f"{ATTRIBUTES}/target_org_uuid", f"{ATTRIBUTES}/target_org_datacenter"],
    )
    details = {item["source"]["pointer"]: item["detail"] for item in items}
    assert "own organization" in details[f"{ATTRIBUTES}/target_org_uuid"]
    assert "another datacenter" in details[f"{ATTRIBUTES}/target_org_datacenter"]


def test_several_mistakes_are_all_reported_each_with_its_pointer(
    http: httpx.Client, admin: Admin, caller: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(
        caller,
        partner,
        hamr_status="4",
        is_primary="yes",
        target_org_name="",
        target_org_uuid="not-a-uuid",
        target_org_datacenter="mars",
    )
    # (Not the target's name: hamr needs it only for a target it does not know, and a
    # target_org_uuid that is not a UUID names no target to know or not.)
    del body["data"]["attributes"]["modified_by"]
    del body["data"]["id"]
    body["data"]["type"] = "foo"
    before = admin.snapshot(caller.uuid)

    items = assert_errors(
        post(http, caller, body),
        400,
        [
            "/data/id",
            "/data/type",
            *(f"{ATTRIBUTES}/{name}" for name in ATTRIBUTE_NAMES),
        ],
    )
    assert len({item["detail"] for item in items}) == len(items)
    assert admin.snapshot(caller.uuid) == before


def test_a_missing_name_of_an_unknown_target_is_reported_with_the_other_mistakes(
    http: httpx.Client, admin: Admin, caller: OrgKeys, partner: OrgKeys
) -> None:
    """One response names every mistake, the target's missing name and datacenter too."""
    body = connection_body(caller, partner, hamr_status="4")
    del body["data"]["attributes"]["target_org_name"]
    del body["data"]["attributes"]["target_org_datacenter"]
    before = admin.snapshot(caller.uuid)

    assert_errors(
        post(http, caller, body),
        400,
        [
            f"{ATTRIBUTES}/{name}"
            for name in ("hamr_status", "target_org_datacenter", "target_org_name")
        ],
    )
    assert admin.snapshot(caller.uuid) == before


def test_mistakes_at_every_level_are_reported_together(
    http: httpx.Client, admin: Admin, caller: OrgKeys
) -> None:
    before = admin.snapshot(caller.uuid)
    body = {"data": {"id": 7, "type": "foo", "attributes": "none"}}
    assert_errors(post(http, caller, body), 400, ["/data/id", "/data/type", ATTRIBUTES])
    assert admin.snapshot(caller.uuid) == before


def test_validation_comes_before_the_ownership_check(
    http: httpx.Client, admin: Admin, caller: OrgKeys, partner: OrgKeys
) -> None:
    """A body that is both malformed and aimed at another org gets the 400 for its mistakes."""
    body = connection_body(caller, partner, hamr_status=9)
    body["data"]["id"] = partner.uuid
    before = admin.snapshot(caller.uuid)
    assert_errors(post(http, caller, body), 400, [f"{ATTRIBUTES}/hamr_status"])
    assert admin.snapshot(caller.uuid) == before


@pytest.mark.parametrize(
    "data_id",
    [
        pytest.param(lambda _c, p: p.uuid, id="partner-uuid"),
        pytest.param(lambda _c, p: p.uuid.upper(), id="partner-uuid-upper-case"),
        pytest.param(lambda _c, _p: "00000000-0000-4000-8000-000000000000", id="unknown-uuid"),
        pytest.param(lambda _c, _p: "not-a-uuid", id="not-a-uuid"),
        pytest.param(lambda c, _p: f" {c.uuid}", id="own-uuid-with-space"),
    ],
)
def test_data_id_of_another_org_is_403(
    http: httpx.Client,
    admin: Admin,
    caller: OrgKeys,
    known: OrgKeys,
    data_id: Callable[[OrgKeys, OrgKeys], str],
) -> None:
    """The partner named is one hamr knows, so a write would land on its side too: a 403
    must leave both sides as they were."""
    body = connection_body(caller, known)
    body["data"]["id"] = data_id(caller, known)
    before = (admin.snapshot(caller.uuid), admin.snapshot(known.uuid))

    [item] = assert_errors(post(http, caller, body), 403, ["/data/id"])

    assert item["title"] == "Forbidden"
    assert caller.uuid in item["detail"]
    assert "own connection" in item["detail"]
    assert (admin.snapshot(caller.uuid), admin.snapshot(known.uuid)) == before
    assert before[1] == (None, 0)


def in_live_spelling(body: Body) -> Body:
    """`body` with every attribute spelled as Datadog's live API spells it."""
    attributes = body["data"]["attributes"]
    body["data"]["attributes"] = {PASCAL_CASE.get(k, k): v for k, v in attributes.items()}
    return body


MISSING_VALUE = object()
LIVE_SPELLING_MISTAKES = [
    *(
        pytest.param(name, MISSING_VALUE, id=f"missing-{PASCAL_CASE[name]}")
        for name in ATTRIBUTE_NAMES
    ),
    pytest.param("hamr_status", "4", id="HamrStatus-string"),
    pytest.param("is_primary", "yes", id="IsPrimary-string"),
    pytest.param("modified_by", "", id="ModifiedBy-empty"),
    pytest.param("target_org_name", "a" * 256, id="TargetOrgName-256-chars"),
    pytest.param(
        "target_org_uuid",
        "not-a-uuid",
        id="TargetOrgUuid-not-a-uuid",
    ),
    pytest.param(
        "target_org_uuid",
        lambda caller: caller.uuid,
        id="TargetOrgUuid-own",
    ),
    pytest.param(
        "target_org_datacenter",
        "mars",
        id="TargetOrgDatacenter-mars",
    ),
    pytest.param(
        "target_org_datacenter",
        "us1",
        id="TargetOrgDatacenter-own",
    ),
]


@pytest.mark.parametrize(("name", "value"), LIVE_SPELLING_MISTAKES)
def test_a_mistake_in_the_live_spelling_is_named_in_that_spelling(
    http: httpx.Client,
    admin: Admin,
    caller: OrgKeys,
    partner: OrgKeys,
    name: str,
    value: Any,
) -> None:
    """A client writing HamrStatus is told about HamrStatus, in the pointer and the detail."""
    body = connection_body(caller, partner)
    if value is MISSING_VALUE:
        del body["data"]["attributes"][name]
    else:
        attribute(name, value)(body, caller)
    in_live_spelling(body)
    before = admin.snapshot(caller.uuid)

    [item] = assert_errors(post(http, caller, body), 400, [f"{ATTRIBUTES}/{PASCAL_CASE[name]}"])

    assert PASCAL_CASE[name] in item["detail"], item
    assert name not in item["detail"], item
    assert admin.snapshot(caller.uuid) == before


# For each attribute, a second valid value: sent in the other spelling, the two disagree.
OTHER_VALUES: dict[str, Callable[[OrgKeys], Any]] = {
    "hamr_status": lambda _p: 4,
    "is_primary": lambda _p: False,
    "modified_by": lambda _p: "someone-else@example.com",
    "target_org_datacenter": lambda _p: "ap1",
    "target_org_name": lambda p: f"not-{p.name}",
    "target_org_uuid": lambda _p: "00000000-0000-4000-8000-000000000000",
}


@pytest.mark.parametrize("name", ATTRIBUTE_NAMES)
def test_both_spellings_that_disagree_are_one_400_at_the_live_spelling(
    http: httpx.Client, admin: Admin, caller: OrgKeys, partner: OrgKeys, name: str
) -> None:
    body = connection_body(caller, partner)
    body["data"]["attributes"][PASCAL_CASE[name]] = OTHER_VALUES[name](partner)
    before = admin.snapshot(caller.uuid)

    pointer = f"{ATTRIBUTES}/{PASCAL_CASE[name]}"
    [item] = assert_errors(post(http, caller, body), 400, [pointer], {pointer: ("disagree",)})

    assert name in item["detail"]
    assert PASCAL_CASE[name] in item["detail"]
    assert admin.snapshot(caller.uuid) == before


def test_a_known_targets_datacenter_must_agree_with_hamrs_record(
    http: httpx.Client, admin: Admin, caller: OrgKeys, known: OrgKeys
) -> None:
    """Any datacenter hamr accepts, but not the one the target is in, is refused by name."""
    body = connection_body(caller, known, target_org_datacenter="ap1")
    before = (admin.snapshot(caller.uuid), admin.snapshot(known.uuid))

    pointer = f"{ATTRIBUTES}/target_org_datacenter"
    [item] = assert_errors(post(http, caller, body), 400, [pointer], {pointer: ("'eu1'",)})

    assert "ap1" in item["detail"]
    assert known.uuid in item["detail"]
    assert (admin.snapshot(caller.uuid), admin.snapshot(known.uuid)) == before


@pytest.mark.parametrize("who", ["target-paired-elsewhere", "caller-paired-elsewhere"])
def test_a_partner_already_paired_is_409_naming_both_pairs(
    http: httpx.Client, admin: Admin, org: OrgKeys, who: str
) -> None:
    """Naming an org that has a connection with someone else, or re-pointing an org paired
    with another, is a conflict; the detail says how to undo the pairing in the way."""
    one, two, three = admin.create_org("eu1"), admin.create_org("ap1"), admin.create_org("eu1")
    if who == "target-paired-elsewhere":
        paired, caller, target = (one, two), org, one
    else:
        paired, caller, target = (org, one), org, three
    first, second = paired
    linked = post(http, first, connection_body(first, second))
    assert linked.status_code == 200, linked.text
    everyone = (org, one, two, three)
    before = [admin.snapshot(o.uuid) for o in everyone]

    [item] = assert_errors(
        post(http, caller, connection_body(caller, target)),
        409,
        [f"{ATTRIBUTES}/target_org_uuid"],
    )

    assert item["title"] == "Conflict"
    for uuid in (first.uuid, second.uuid, caller.uuid, target.uuid):
        assert uuid in item["detail"], item
    stuck = target if who == "target-paired-elsewhere" else caller
    assert f"hamr pair unlink --org {stuck.uuid}" in item["detail"], item
    assert [admin.snapshot(o.uuid) for o in everyone] == before


@pytest.mark.parametrize("spelling", ["contract", "live"])
def test_a_conflict_points_at_the_target_as_the_client_spelled_it(
    http: httpx.Client, admin: Admin, org: OrgKeys, spelling: str
) -> None:
    one, two = admin.create_org("eu1"), admin.create_org("ap1")
    assert post(http, one, connection_body(one, two)).status_code == 200
    body = connection_body(org, one)
    if spelling == "live":
        in_live_spelling(body)
    name = "target_org_uuid" if spelling == "contract" else "TargetOrgUuid"
    assert_errors(post(http, org, body), 409, [f"{ATTRIBUTES}/{name}"])


def contract_attributes(attributes: dict[str, Any], caller: OrgKeys) -> dict[str, Any]:
    """The contract's seven attributes of a response in the default wire format, after
    checking they come first, in order, followed by the live API's eight saying the same."""
    assert tuple(attributes) == CONTRACT_ATTRIBUTES + LIVE_ATTRIBUTES, list(attributes)
    contract = {name: attributes[name] for name in CONTRACT_ATTRIBUTES}
    date, time = contract["modified_at"].removesuffix("Z").split("T")
    assert {name: attributes[name] for name in LIVE_ATTRIBUTES} == {
        "HamrStatus": contract["hamr_status"],
        "IsPrimary": contract["is_primary"],
        "ModifiedAt": f"{date} {time}",
        "ModifiedBy": contract["modified_by"],
        "OrgDatacenter": f"{caller.datacenter}.prod.dog",
        "TargetOrgDatacenter": f"{contract['target_org_datacenter']}.prod.dog",
        "TargetOrgName": contract["target_org_name"],
        "TargetOrgUuid": contract["target_org_uuid"],
    }
    return contract


def _accepted(http: httpx.Client, admin: Admin, caller: OrgKeys, body: Body) -> dict[str, Any]:
    """POST `body`, expect 200, and check the stored connection and history moved with it.
    Returns the response's contract attributes."""
    _, history_before = admin.snapshot(caller.uuid)
    response = post(http, caller, body)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    stored, history_after = admin.snapshot(caller.uuid)
    assert history_after == history_before + 1
    assert stored is not None
    attributes = contract_attributes(data["attributes"], caller)
    assert stored.attributes() == attributes
    assert data["id"] == caller.uuid
    return attributes


def test_unknown_members_are_ignored(
    http: httpx.Client, admin: Admin, fresh_caller: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(
        fresh_caller,
        partner,
        favourite_colour="teal",
        modified_at="1970-01-01",
        FavouriteColour="teal",
        ModifiedAt="1970-01-01 00:00:00.000000",
        OrgDatacenter="ap1.prod.dog",
    )
    body["data"]["relationships"] = {"owner": {"data": None}}
    body["meta"] = {"anything": [1, 2, 3]}
    body["included"] = []

    attributes = _accepted(http, admin, fresh_caller, body)

    assert attributes["modified_at"] != "1970-01-01"
    assert set(attributes) == {*ATTRIBUTE_NAMES, "modified_at"}
    # and contract_attributes saw the live eight say the same, OrgDatacenter the caller's own


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("modified_by", "m" * 255, id="modified_by-255-ascii"),
        pytest.param("target_org_name", "n" * 255, id="target_org_name-255-ascii"),
        pytest.param("modified_by", "é" * 255, id="modified_by-255-non-ascii"),
        pytest.param("target_org_name", "名" * 255, id="target_org_name-255-non-ascii"),
        pytest.param("modified_by", " x ", id="modified_by-padded-kept-as-sent"),
    ],
)
def test_strings_up_to_255_characters_are_accepted(
    http: httpx.Client,
    admin: Admin,
    fresh_caller: OrgKeys,
    partner: OrgKeys,
    field: str,
    value: str,
) -> None:
    attributes = _accepted(
        http, admin, fresh_caller, connection_body(fresh_caller, partner, **{field: value})
    )
    assert attributes[field] == value


def test_every_status_and_both_roles_are_accepted(
    http: httpx.Client, admin: Admin, fresh_caller: OrgKeys, partner: OrgKeys
) -> None:
    for status in range(6):
        for primary in (True, False):
            body = connection_body(fresh_caller, partner, hamr_status=status, is_primary=primary)
            attributes = _accepted(http, admin, fresh_caller, body)
            assert (attributes["hamr_status"], attributes["is_primary"]) == (status, primary)


def test_own_uuid_in_upper_case_is_accepted_as_data_id(
    http: httpx.Client, admin: Admin, fresh_caller: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(fresh_caller, partner)
    body["data"]["id"] = fresh_caller.uuid.upper()
    _accepted(http, admin, fresh_caller, body)


@pytest.mark.parametrize("spelling", ["contract", "live", "both-agreeing"])
def test_either_spelling_is_accepted(
    http: httpx.Client, admin: Admin, fresh_caller: OrgKeys, partner: OrgKeys, spelling: str
) -> None:
    body = connection_body(fresh_caller, partner, hamr_status=5, is_primary=False)
    if spelling == "live":
        in_live_spelling(body)
    if spelling == "both-agreeing":
        attributes = body["data"]["attributes"]
        attributes.update({PASCAL_CASE[name]: attributes[name] for name in ATTRIBUTE_NAMES})

    attributes = _accepted(http, admin, fresh_caller, body)

    assert attributes == {
        "hamr_status": 5,
        "is_primary": False,
        "modified_at": attributes["modified_at"],
        "modified_by": "sre@example.com",
        "target_org_datacenter": partner.datacenter,
        "target_org_name": partner.name,
        "target_org_uuid": partner.uuid,
    }


@pytest.mark.parametrize(
    ("given", "warned"),
    [
        pytest.param({}, False, id="uuid-alone"),
        pytest.param({"target_org_datacenter": "eu1.prod.dog"}, False, id="live-datacenter"),
        pytest.param({"target_org_name": "what-the-caller-calls-it"}, True, id="another-name"),
        pytest.param({"TargetOrgName": "what-the-caller-calls-it"}, True, id="another-Name"),
    ],
)
def test_a_known_target_is_named_by_hamrs_record(
    http: httpx.Client, admin: Admin, org: OrgKeys, given: dict[str, str], warned: bool
) -> None:
    """Name and datacenter of a target hamr knows may be left out; a name that differs from
    the record is accepted, not stored, and said so in X-Hamr-Warning."""
    target = admin.create_org("eu1")
    body = connection_body(org, target)
    del body["data"]["attributes"]["target_org_name"]
    del body["data"]["attributes"]["target_org_datacenter"]
    body["data"]["attributes"].update(given)

    response = post(http, org, body)

    assert response.status_code == 200, response.text
    attributes = contract_attributes(response.json()["data"]["attributes"], org)
    assert (attributes["target_org_name"], attributes["target_org_datacenter"]) == (
        target.name,
        "eu1",
    )
    stored = admin.connection(org.uuid)
    assert stored is not None
    assert stored.attributes() == attributes
    warning = response.headers.get("X-Hamr-Warning")
    if warned:
        assert warning is not None
        assert "what-the-caller-calls-it" in warning
        assert target.name in warning
    else:
        assert warning is None
