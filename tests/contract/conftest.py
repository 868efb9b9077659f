"""A dedicated database and `hamr serve` for the property-based tests, one per backend, with
the organization the contract's own example speaks for."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pytest

from hamr.domain.model import KeyKind
from hamr.domain.rules import DEFAULT_DATACENTERS
from hamr.store.sql import open_store
from tests import local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, sqlite_url
from tests.postgres import PostgresServer

PATH = "/api/v2/hamr"
SEED = int(os.environ.get("HAMR_FUZZ_SEED", "20260113"))
# The caller is the organization of the contract's request example, in a datacenter other than
# the example's target (us1), so that the example itself is a valid request.
ORG_UUID = "550e8400-e29b-41d4-a716-446655440000"
ORG_DATACENTER = "eu1"
PARTNER_DATACENTERS = tuple(dc for dc in DEFAULT_DATACENTERS if dc != ORG_DATACENTER)
RFC3339_MICROS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def modified_at(document: dict[str, Any]) -> datetime:
    value = document["data"]["attributes"]["modified_at"]
    assert RFC3339_MICROS_Z.match(value), f"modified_at {value!r} is not RFC 3339 with µs and Z"
    return datetime.fromisoformat(value)


@dataclass
class Ledger:
    """What the fuzzed organization's GET must return: its last acknowledged POST (None: 404)."""

    http: httpx.Client
    headers: dict[str, str]
    current: dict[str, Any] | None = None
    accepted: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    turn: int = 0  # of the wrong credentials, taken in turn

    def read(self) -> httpx.Response:
        return self.http.get(PATH, headers=self.headers)

    def sync(self) -> None:
        response = self.read()
        assert response.status_code in (200, 404), response.text
        self.current = response.json() if response.status_code == 200 else None

    def acknowledged(self, document: dict[str, Any]) -> None:
        """A POST returned 200 with `document`: it is now what GET returns."""
        if self.current is not None:
            assert modified_at(document) > modified_at(self.current), (
                f"modified_at did not increase: {self.current} then {document}"
            )
        else:
            modified_at(document)
        self.current = document
        self.accepted += 1
        self.expect_unchanged()

    def expect_unchanged(self) -> None:
        response = self.read()
        if self.current is None:
            assert response.status_code == 404, response.text
        else:
            assert response.status_code == 200, response.text
            assert response.json() == self.current

    def count(self, label: str) -> None:
        self.statuses[label] = self.statuses.get(label, 0) + 1


@dataclass
class Target:
    """One `hamr serve` on a database of its own, and the organization the fuzzer speaks for."""

    backend: str
    server: ServeProcess
    admin: Admin
    keys: OrgKeys
    other: OrgKeys  # another organization, whose keys must not work for `keys`' org
    token: str  # a valid bearer token of `keys`' organization
    revoked: OrgKeys  # a revoked API key and a revoked application key of that organization
    revoked_token: str
    ledger: Ledger


RATE_LIMIT = 3
RATE_PERIOD = 86400
TIGHT_RATE_LIMITS = tuple(
    f"--rate-limit={bucket}={RATE_LIMIT}/{RATE_PERIOD}"
    for bucket in ("hamr_get", "hamr_post", "hamr_unauthenticated")
)


@dataclass
class Limited:
    """A `hamr serve` that allows each organization (and each address, for refused
    credentials) three requests a day per bucket."""

    server: ServeProcess
    admin: Admin
    keys: OrgKeys
    requests: int = 0
    admitted: dict[str, int] = field(default_factory=dict)
    throttled: int = 0


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Limited]:
    url = sqlite_url(tmp_path_factory.mktemp("limited") / "hamr.db")
    store = open_store(url)
    admin = Admin(store)
    org, api_key, app_key = admin.service.create_org("Limited Org", ORG_DATACENTER, ORG_UUID)
    keys = OrgKeys(org.uuid, org.name, org.datacenter, api_key, app_key)
    log = tmp_path_factory.mktemp("log") / "server.log"
    server = ServeProcess(url, log, *TIGHT_RATE_LIMITS).start()
    yield Limited(server, admin, keys)
    server.stop()
    store.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path_factory.mktemp("contract") / "hamr.db")
    else:
        postgres: PostgresServer = request.getfixturevalue("postgres")
        name = f"contract_{uuid.uuid4().hex[:12]}"
        postgres.create_database(name)
        url = postgres.url_for(name)
    store = open_store(url)
    admin = Admin(store)
    org, api_key, app_key = admin.service.create_org("Fuzzed Org", ORG_DATACENTER, ORG_UUID)
    keys = OrgKeys(org.uuid, org.name, org.datacenter, api_key, app_key)
    other = admin.create_org("us1", "Another Org")
    token = admin.service.create_key(org.uuid, KeyKind.TOKEN)[1]
    revoked = {}
    for kind in (KeyKind.API, KeyKind.APP, KeyKind.TOKEN):
        record, revoked[kind] = admin.service.create_key(org.uuid, kind)
        admin.service.revoke_key(record.id)
    revoked_keys = OrgKeys(
        org.uuid, org.name, org.datacenter, revoked[KeyKind.API], revoked[KeyKind.APP]
    )
    server = ServeProcess(url, tmp_path_factory.mktemp("log") / "server.log").start()
    with local_http.client(base_url=server.url, timeout=30) as http:
        ledger = Ledger(http, keys.headers)
        ledger.sync()
        yield Target(
            request.param,
            server,
            admin,
            keys,
            other,
            token,
            revoked_keys,
            revoked[KeyKind.TOKEN],
            ledger,
        )
    server.stop()
    store.close()


# The live API's spelling of each request attribute, and of datacenters (`us5.prod.dog`).
PASCAL_CASE = {
    "hamr_status": "HamrStatus",
    "is_primary": "IsPrimary",
    "modified_by": "ModifiedBy",
    "target_org_datacenter": "TargetOrgDatacenter",
    "target_org_name": "TargetOrgName",
    "target_org_uuid": "TargetOrgUuid",
}
LIVE_SUFFIX = ".prod.dog"


def live_timestamp(rfc3339: str) -> str:
    """`modified_at` as the live API writes its ModifiedAt: `2026-05-28 16:34:21.636477`."""
    assert RFC3339_MICROS_Z.match(rfc3339), rfc3339
    return rfc3339.replace("T", " ").removesuffix("Z")


def same_document(got: dict[str, Any], expected: dict[str, Any]) -> bool:
    """Equal, attributes in the same order too (`both` writes the contract's seven first)."""
    return got == expected and list(got["data"]["attributes"]) == list(
        expected["data"]["attributes"]
    )


CONTRACT_ORDER = (
    "hamr_status",
    "is_primary",
    "modified_at",
    "modified_by",
    "target_org_datacenter",
    "target_org_name",
    "target_org_uuid",
)


def assert_both_spellings(document: dict[str, Any], org_datacenter: str) -> None:
    """A `--wire both` document: the contract's seven attributes, then the live API's eight
    saying the same (the caller's own datacenter added), in the live API's spelling."""
    attributes = document["data"]["attributes"]
    contract = {name: attributes[name] for name in CONTRACT_ORDER}
    live = {
        "HamrStatus": contract["hamr_status"],
        "IsPrimary": contract["is_primary"],
        "ModifiedAt": live_timestamp(contract["modified_at"]),
        "ModifiedBy": contract["modified_by"],
        "OrgDatacenter": org_datacenter + LIVE_SUFFIX,
        "TargetOrgDatacenter": contract["target_org_datacenter"] + LIVE_SUFFIX,
        "TargetOrgName": contract["target_org_name"],
        "TargetOrgUuid": contract["target_org_uuid"],
    }
    assert list(attributes.items()) == [*contract.items(), *live.items()], attributes
