"""A state machine of interleaved GETs and POSTs from several organizations, over real HTTP to
one `hamr serve` (on SQLite and on PostgreSQL): what GET returns is always the last
acknowledged POST of that organization, a refused POST changes nothing, and the history holds
exactly the acknowledged changes.

The model predicts every answer: hamr's rules are on the fields of one request (a known
datacenter other than the caller's, a partner UUID other than the caller's own...), not on
transitions between statuses, so any status may follow any other.

`HAMR_STATEFUL_EXAMPLES` (default 30) runs of up to `HAMR_STATEFUL_STEPS` (default 40) steps,
derandomized: the same steps every run.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from hamr.domain.model import KeyKind
from hamr.domain.rules import DEFAULT_DATACENTERS, MAX_TEXT_LENGTH
from tests.conftest import ATTRIBUTE_NAMES, Admin, HamrServer, OrgKeys
from tests.contract.conftest import PATH, modified_at

EXAMPLES = int(os.environ.get("HAMR_STATEFUL_EXAMPLES", "30"))
STEPS = int(os.environ.get("HAMR_STATEFUL_STEPS", "40"))
# Two organizations share a datacenter, so that one may not name the other as its partner.
DATACENTERS = ("us1", "eu1", "us5", "us1")
ORGS = len(DATACENTERS)
JSON_TYPE = {"Content-Type": "application/json"}

Document = dict[str, Any]

# Free text as hamr accepts it: 1 to 255 characters, not blank, any Unicode but NUL (which
# PostgreSQL cannot store).
text = st.text(
    st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=MAX_TEXT_LENGTH
).filter(str.strip)
orgs = st.integers(0, ORGS - 1)


@dataclass(frozen=True)
class Member:
    keys: OrgKeys
    token: str

    def credentials(self, via: str) -> dict[str, str]:
        return self.keys.headers if via == "keys" else {"Authorization": f"Bearer {self.token}"}


@st.composite
def changes(draw: st.DrawFn, members: int = ORGS) -> dict[str, Any]:
    """What a valid POST asks for, before the partner is chosen (it depends on the caller)."""
    return {
        "hamr_status": draw(st.integers(0, 5)),
        "is_primary": draw(st.booleans()),
        "modified_by": draw(text),
        "target_org_name": draw(text),
        # A partner in the machine (by index), or one hamr knows nothing about.
        "partner": draw(st.one_of(st.integers(0, members - 1), st.uuids(version=4))),
        "partner_datacenter": draw(st.sampled_from(DEFAULT_DATACENTERS)),
        "upper_case": draw(st.booleans()),
        "extra": draw(st.booleans()),
    }


# Each refusal: how it breaks the request, and the status that says so.
REFUSALS = {
    "status 6": 400,
    "status -1": 400,
    'status "4"': 400,
    "status true": 400,
    "status 2.5": 400,
    'is_primary "true"': 400,
    "is_primary null": 400,
    "own datacenter": 400,
    "unknown datacenter": 400,
    "own uuid as partner": 400,
    "partner not a uuid": 400,
    "blank modified_by": 400,
    "NUL in target_org_name": 400,
    "modified_by of 256 characters": 400,
    "empty target_org_name": 400,
    "no modified_by": 400,
    "wrong type": 400,
    "attributes not an object": 400,
    "malformed JSON": 400,
    "a JSON array": 400,
    "data.id of another org": 403,
    "keys of another org": 403,
    "no credentials": 403,
    "revoked token": 403,
    "text/plain": 415,
}


class HamrMachine(RuleBasedStateMachine):
    server: ClassVar[HamrServer]
    admin: ClassVar[Admin]

    def __init__(self) -> None:
        super().__init__()
        self.http = httpx.Client(base_url=self.server.url, timeout=30)
        self.members: list[Member] = []
        for datacenter in DATACENTERS:
            keys = self.admin.create_org(datacenter)
            token = self.admin.service.create_key(keys.uuid, KeyKind.TOKEN)[1]
            self.members.append(Member(keys, token))
        record, self.revoked_token = self.admin.service.create_key(
            self.members[0].keys.uuid, KeyKind.TOKEN
        )
        self.admin.service.revoke_key(record.id)
        # The model: each organization's last acknowledged document (None: never written).
        self.model: list[Document | None] = [None] * ORGS
        self.acknowledged = [0] * ORGS

    def teardown(self) -> None:
        try:
            self.check_history()
        finally:
            self.http.close()

    # -- building requests ---------------------------------------------------------------------

    def body(self, caller: int, change: dict[str, Any]) -> Document:
        """A valid request body for `caller`: the partner moved out of the caller's datacenter."""
        me = self.members[caller].keys
        partner = change["partner"]
        if isinstance(partner, int):
            if self.members[partner].keys.datacenter == me.datacenter:
                partner = next(
                    index
                    for index, member in enumerate(self.members)
                    if member.keys.datacenter != me.datacenter
                )
            target_uuid = self.members[partner].keys.uuid
            target_dc = self.members[partner].keys.datacenter
        else:
            target_uuid = str(partner)
            target_dc = change["partner_datacenter"]
            if target_dc == me.datacenter:
                target_dc = next(dc for dc in DEFAULT_DATACENTERS if dc != me.datacenter)
        attributes: dict[str, Any] = {
            "hamr_status": change["hamr_status"],
            "is_primary": change["is_primary"],
            "modified_by": change["modified_by"],
            "target_org_datacenter": target_dc,
            "target_org_name": change["target_org_name"],
            "target_org_uuid": target_uuid.upper() if change["upper_case"] else target_uuid,
        }
        if change["extra"]:
            attributes["unknown_attribute"] = {"ignored": True}
        org_id = me.uuid.upper() if change["upper_case"] else me.uuid
        return {"data": {"id": org_id, "type": "hamr_org_connections", "attributes": attributes}}

    def expect_written(self, caller: int, sent: Document, response: httpx.Response) -> Document:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        document: Document = response.json()
        data = document["data"]
        assert data["id"] == self.members[caller].keys.uuid
        assert data["type"] == "hamr_org_connections"
        assert {name: data["attributes"][name] for name in ATTRIBUTE_NAMES} == {
            name: sent["data"]["attributes"][name] for name in ATTRIBUTE_NAMES
        }
        assert set(data["attributes"]) == {*ATTRIBUTE_NAMES, "modified_at"}
        previous = self.model[caller]
        if previous is not None:
            assert modified_at(document) > modified_at(previous)
        else:
            modified_at(document)
        return document

    def acknowledge(self, caller: int, document: Document) -> None:
        self.model[caller] = document
        self.acknowledged[caller] += 1

    # -- rules ---------------------------------------------------------------------------------

    @rule(caller=orgs, change=changes(), via=st.sampled_from(["keys", "token"]))
    def post_a_valid_change(self, caller: int, change: dict[str, Any], via: str) -> None:
        body = self.body(caller, change)
        response = self.http.post(PATH, json=body, headers=self.members[caller].credentials(via))
        self.acknowledge(caller, self.expect_written(caller, body, response))

    @rule(
        writes=st.lists(st.tuples(orgs, changes()), min_size=2, max_size=8),
    )
    def post_concurrently(self, writes: list[tuple[int, dict[str, Any]]]) -> None:
        """Several POSTs at once (some from the same organization): the group-commit writer
        may write them in one transaction. Each organization's last write is the one with the
        latest modified_at, and that is what GET must return."""
        bodies = [(caller, self.body(caller, change)) for caller, change in writes]

        def send(item: tuple[int, Document]) -> httpx.Response:
            caller, body = item
            return self.http.post(PATH, json=body, headers=self.members[caller].keys.headers)

        with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
            responses = list(pool.map(send, bodies))
        latest: dict[int, Document] = {}
        stamps: dict[int, set[str]] = {}
        for (caller, body), response in zip(bodies, responses, strict=True):
            document = self.expect_written(caller, body, response)
            stamp = document["data"]["attributes"]["modified_at"]
            assert stamp not in stamps.setdefault(caller, set()), "two writes, one modified_at"
            stamps[caller].add(stamp)
            if caller not in latest or modified_at(document) > modified_at(latest[caller]):
                latest[caller] = document
        for caller, (document) in latest.items():
            self.model[caller] = document
            self.acknowledged[caller] += len(stamps[caller])

    @rule(
        caller=orgs,
        change=changes(),
        refusal=st.sampled_from(sorted(REFUSALS)),
        other=orgs,
    )
    def post_a_refused_change(
        self, caller: int, change: dict[str, Any], refusal: str, other: int
    ) -> None:
        if other == caller:
            other = (caller + 1) % ORGS
        me = self.members[caller]
        body = self.body(caller, change)
        attributes = body["data"]["attributes"]
        headers = {**me.keys.headers, **JSON_TYPE}
        content: bytes | None = None
        expected = {REFUSALS[refusal]}
        match refusal:
            case "status 6":
                attributes["hamr_status"] = 6
            case "status -1":
                attributes["hamr_status"] = -1
            case 'status "4"':
                attributes["hamr_status"] = "4"
            case "status true":
                attributes["hamr_status"] = True
            case "status 2.5":
                attributes["hamr_status"] = 2.5
            case 'is_primary "true"':
                attributes["is_primary"] = "true"
            case "is_primary null":
                attributes["is_primary"] = None
            case "own datacenter":
                attributes["target_org_datacenter"] = me.keys.datacenter
            case "unknown datacenter":
                attributes["target_org_datacenter"] = "mars1"
            case "own uuid as partner":
                attributes["target_org_uuid"] = me.keys.uuid.upper()
            case "partner not a uuid":
                attributes["target_org_uuid"] = "not-a-uuid"
            case "blank modified_by":
                attributes["modified_by"] = " \t "
            case "NUL in target_org_name":
                attributes["target_org_name"] += "\x00"
            case "modified_by of 256 characters":
                attributes["modified_by"] = "x" * (MAX_TEXT_LENGTH + 1)
            case "empty target_org_name":
                attributes["target_org_name"] = ""
            case "no modified_by":
                del attributes["modified_by"]
            case "wrong type":
                body["data"]["type"] = "hamr_org_connection"
            case "attributes not an object":
                body["data"]["attributes"] = [attributes]
            case "malformed JSON":
                content = json.dumps(body).encode()[:-1]
            case "a JSON array":
                content = json.dumps([body]).encode()
            case "data.id of another org":
                body["data"]["id"] = self.members[other].keys.uuid
            case "keys of another org":
                them = self.members[other].keys
                headers = {**them.headers, **JSON_TYPE}
                if them.datacenter == attributes["target_org_datacenter"] or (
                    them.uuid == attributes["target_org_uuid"].lower()
                ):
                    # The body is wrong for them as well: hamr checks it (400) before it
                    # checks whose it is (403); either refusal will do.
                    expected = {400, 403}
            case "no credentials":
                headers = dict(JSON_TYPE)
            case "revoked token":
                headers = {"Authorization": f"Bearer {self.revoked_token}", **JSON_TYPE}
            case "text/plain":
                headers = {**me.keys.headers, "Content-Type": "text/plain"}
            case _:  # pragma: no cover
                raise AssertionError(refusal)
        if content is None:
            content = json.dumps(body).encode()
        response = self.http.post(PATH, content=content, headers=headers)
        assert response.status_code in expected, (refusal, response.text)
        errors = response.json()["errors"]
        assert errors, response.text
        assert all(item["status"] == str(response.status_code) for item in errors), errors

    @rule(reader=orgs)
    def get_with_a_token(self, reader: int) -> None:
        response = self.http.get(PATH, headers=self.members[reader].credentials("token"))
        self.expect_model(reader, response)

    @invariant()
    def every_get_returns_the_last_acknowledged_post(self) -> None:
        for reader, member in enumerate(self.members):
            self.expect_model(reader, self.http.get(PATH, headers=member.keys.headers))

    def expect_model(self, reader: int, response: httpx.Response) -> None:
        expected = self.model[reader]
        if expected is None:
            assert response.status_code == 404, response.text
            assert response.json()["errors"][0]["status"] == "404"
        else:
            assert response.status_code == 200, response.text
            assert response.json() == expected

    def check_history(self) -> None:
        """What was acknowledged is what was recorded, and nothing else."""
        for reader, member in enumerate(self.members):
            history = self.admin.history(member.keys.uuid)
            assert len(history) == self.acknowledged[reader]
            expected = self.model[reader]
            if expected is not None:
                assert history[-1].after == expected["data"]["attributes"]


def test_get_always_returns_the_last_acknowledged_post(server: HamrServer, admin: Admin) -> None:
    machine = type("Machine", (HamrMachine,), {"server": server, "admin": admin})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            derandomize=True,
            database=None,
            # Shrinking replays steps against the server for many minutes; a failure is
            # reported as found (at most STEPS steps, each printed with its arguments).
            phases=[Phase.explicit, Phase.generate],
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
