"""A state machine of interleaved GETs and POSTs from several organizations, over real HTTP to
one `hamr serve` (on SQLite and on PostgreSQL, in the default `--wire both`, with
`--transitions off`), against a model
of the pair rules: what each organization's GET returns is always its side of the connection
it reads, as the acknowledged POSTs left it; a refused POST changes nothing; and each
organization's history holds exactly the acknowledged changes of the connection it reads.

The model (`World`) keeps one connection per pair. An organization that names another
organization of this hamr is linked with it: both read the one connection, each from its own
side (`is_primary` opposite, the other as target, status and `modified_*` shared), and a POST
by either writes it. A known target is named by hamr's record, whatever name the request gave
(then with an `X-Hamr-Warning`), and its name and datacenter may be left out. A target hamr
does not know makes a one-sided connection, stored as named, that its writer may re-point
anywhere. Re-pointing a paired organization, or naming an organization that already has a
connection with someone else, is a 409. Within those rules any status may follow any other.

Concurrent POSTs are checked against the model too: hamr applies them in some order, so the
machine looks for an order in which the model gives exactly the answers received (each 200
document, each 409), with every connection's `modified_at` increasing; none means hamr's
answers contradict the rules.

`HAMR_STATEFUL_EXAMPLES` (default 20) runs of up to `HAMR_STATEFUL_STEPS` (default 40) steps,
derandomized: the same steps every run.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from hamr.domain.model import KeyKind
from hamr.domain.rules import DEFAULT_DATACENTERS, MAX_TEXT_LENGTH
from tests import local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, serving
from tests.contract.conftest import (
    LIVE_SUFFIX,
    PASCAL_CASE,
    PATH,
    live_timestamp,
    modified_at,
    same_document,
)

EXAMPLES = int(os.environ.get("HAMR_STATEFUL_EXAMPLES", "20"))
STEPS = int(os.environ.get("HAMR_STATEFUL_STEPS", "40"))
# Two organizations share a datacenter, so that one may not name the other as its partner.
DATACENTERS = ("us1", "eu1", "us5", "us1")
ORGS = len(DATACENTERS)
JSON_TYPE = {"Content-Type": "application/json"}
WARNING = "x-hamr-warning"
RESOURCE_TYPE = "hamr_org_connections"

Document = dict[str, Any]
# Why the model refuses a valid write with a 409.
REPOINTING = "409: re-pointing a paired organization"
TAKEN = "409: the target already has a connection with someone else"

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


# -- the model -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Named:
    """An organization as a connection names it."""

    uuid: str
    name: str
    datacenter: str


@dataclass(frozen=True)
class Pairing:
    """One stored connection. `first` (a member, by index) made it; `second` is a member when
    the two are linked (both read it), or a target hamr does not know (only `first` reads it)."""

    key: int
    first: int
    second: int | Named
    first_is_primary: bool
    hamr_status: int
    modified_at: str
    modified_by: str

    @property
    def linked(self) -> bool:
        return isinstance(self.second, int)

    @property
    def readers(self) -> tuple[int, ...]:
        return (self.first, self.second) if isinstance(self.second, int) else (self.first,)


@dataclass(frozen=True)
class Row:
    """One history row: who wrote which connection, and how the writer saw it before and after
    (the contract's attributes)."""

    writer: int
    key: int
    before: dict[str, Any] | None
    after: dict[str, Any]


@dataclass(frozen=True)
class Write:
    """A valid POST as the model reads it: the target resolved (a member, or a target hamr
    does not know as it was named), and whether a name other than the record's was sent."""

    caller: int
    target: int | Named
    hamr_status: int
    is_primary: bool
    modified_by: str
    warned: bool
    target_pointer: str


@dataclass
class World:
    """What hamr should hold: the connections, which one each member reads, and the history."""

    members: tuple[OrgKeys, ...] = dataclasses.field(repr=False)
    connections: dict[int, Pairing] = dataclasses.field(default_factory=dict)
    reads: dict[int, int] = dataclasses.field(default_factory=dict)  # member -> key
    rows: list[Row] = dataclasses.field(default_factory=list)
    next_key: int = 0

    def copy(self) -> World:
        return World(
            self.members, dict(self.connections), dict(self.reads), list(self.rows), self.next_key
        )

    def current(self, member: int) -> Pairing | None:
        key = self.reads.get(member)
        return None if key is None else self.connections[key]

    def named(self, who: int | Named) -> Named:
        if isinstance(who, Named):
            return who
        keys = self.members[who]
        return Named(keys.uuid, keys.name, keys.datacenter)

    def plan(self, write: Write) -> Pairing | str:
        """The connection `write` makes (its `modified_at` still to be stamped by hamr), or
        why hamr must refuse it with a 409."""
        caller, target = write.caller, write.target
        current = self.current(caller)
        if current is not None and current.linked:
            other = current.second if current.first == caller else current.first
            if other != target:
                return REPOINTING
        if isinstance(target, int):
            taken = self.current(target)
            if taken is not None and (current is None or taken.key != current.key):
                return TAKEN
        if current is None:
            return Pairing(
                key=self.next_key,
                first=caller,
                second=target,
                first_is_primary=write.is_primary,
                hamr_status=write.hamr_status,
                modified_at="",
                modified_by=write.modified_by,
            )
        return dataclasses.replace(
            current,
            # A one-sided connection goes wherever its writer points it; a pair stays a pair.
            second=current.second if current.linked else target,
            first_is_primary=write.is_primary if caller == current.first else not write.is_primary,
            hamr_status=write.hamr_status,
            modified_by=write.modified_by,
        )

    def outcome(self, write: Write) -> str:
        """What the model says `write` does here, in words (to count what the runs reached)."""
        planned = self.plan(write)
        if isinstance(planned, str):
            return planned
        current = self.current(write.caller)
        if current is None:
            return "200: a new pair" if planned.linked else "200: a new one-sided connection"
        if current.linked:
            return "200: a pair written by " + (
                "the side that made it" if write.caller == current.first else "the other side"
            )
        return "200: a one-sided connection " + (
            "linked to a member" if planned.linked else "re-pointed elsewhere"
        )

    def document(self, reader: int, pairing: Pairing) -> Document:
        """What `reader` is answered with in `--wire both`: the contract's seven attributes,
        then the live API's eight."""
        own = self.members[reader]
        other = self.named(pairing.second if reader == pairing.first else pairing.first)
        primary = (
            pairing.first_is_primary if reader == pairing.first else not pairing.first_is_primary
        )
        contract = {
            "hamr_status": pairing.hamr_status,
            "is_primary": primary,
            "modified_at": pairing.modified_at,
            "modified_by": pairing.modified_by,
            "target_org_datacenter": other.datacenter,
            "target_org_name": other.name,
            "target_org_uuid": other.uuid,
        }
        live = {
            "HamrStatus": pairing.hamr_status,
            "IsPrimary": primary,
            "ModifiedAt": live_timestamp(pairing.modified_at),
            "ModifiedBy": pairing.modified_by,
            "OrgDatacenter": own.datacenter + LIVE_SUFFIX,
            "TargetOrgDatacenter": other.datacenter + LIVE_SUFFIX,
            "TargetOrgName": other.name,
            "TargetOrgUuid": other.uuid,
        }
        return {"data": {"attributes": {**contract, **live}, "id": own.uuid, "type": RESOURCE_TYPE}}

    def view(self, reader: int) -> Document | None:
        pairing = self.current(reader)
        return None if pairing is None else self.document(reader, pairing)

    def explain(self, write: Write, status: int, document: Document | None) -> World | None:
        """The world after `write`, if its answer (`status`, and the document of a 200) is
        the one the model gives in this world; else None."""
        planned = self.plan(write)
        if isinstance(planned, str):
            return self if status == 409 else None
        if status != 200 or document is None:
            return None
        previous = self.view(write.caller)
        if previous is not None and modified_at(document) <= modified_at(previous):
            return None  # a connection's modified_at only increases
        stamp = document["data"]["attributes"]["modified_at"]
        pairing = dataclasses.replace(planned, modified_at=stamp)
        if not same_document(document, self.document(write.caller, pairing)):
            return None
        after = self.copy()
        after.connections[pairing.key] = pairing
        for reader in pairing.readers:
            after.reads[reader] = pairing.key
        after.next_key = max(self.next_key, pairing.key + 1)
        after.rows.append(
            Row(
                write.caller,
                pairing.key,
                None if previous is None else contract_attributes(previous),
                contract_attributes(document),
            )
        )
        return after

    def history(self, member: int) -> list[Row]:
        """The rows `member` wrote, and every row of a connection it wrote or reads now."""
        keys = {row.key for row in self.rows if row.writer == member}
        if member in self.reads:
            keys.add(self.reads[member])
        return [row for row in self.rows if row.writer == member or row.key in keys]


def contract_attributes(document: Document) -> dict[str, Any]:
    """The contract's seven attributes of a `both` document (what history records)."""
    attributes = document["data"]["attributes"]
    return {name: value for name, value in attributes.items() if name[0].islower()}


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
        # How a member partner is named: by a name of the request's own (hamr keeps its
        # record's), by its record's name, or not at all; an unknown partner is always named.
        "name": draw(st.sampled_from(["sent", "record", "omitted"])),
        # `us5` or the live API's `us5.prod.dog`; a member partner's may be left out.
        "datacenter": draw(st.sampled_from(["short", "live", "omitted"])),
        # The contract's attribute names, the live API's, or both (with the same values).
        "spelling": draw(st.sampled_from(["snake", "pascal", "both"])),
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
    "datacenter contradicting the record": 400,
    "member partner in own datacenter, unsaid": 400,
    "unknown partner without a name": 400,
    "unknown partner without a datacenter": 400,
    "spellings that disagree": 400,
    "data.id of another org": 403,
    "keys of another org": 403,
    "no credentials": 403,
    "revoked token": 403,
    "text/plain": 415,
}
# Where the new rules' refusals point.
REFUSAL_POINTERS = {
    "datacenter contradicting the record": "/data/attributes/target_org_datacenter",
    "member partner in own datacenter, unsaid": "/data/attributes/target_org_uuid",
    "unknown partner without a name": "/data/attributes/target_org_name",
    "unknown partner without a datacenter": "/data/attributes/target_org_datacenter",
    "spellings that disagree": "/data/attributes/HamrStatus",
}


class HamrMachine(RuleBasedStateMachine):
    server: ClassVar[ServeProcess]
    admin: ClassVar[Admin]
    reached: ClassVar[Counter[str]]  # what the runs did, over all of them

    def __init__(self) -> None:
        super().__init__()
        self.http = local_http.client(base_url=self.server.url, timeout=30)
        self.members: list[Member] = []
        for datacenter in DATACENTERS:
            keys = self.admin.create_org(datacenter)
            token = self.admin.service.create_key(keys.uuid, KeyKind.TOKEN)[1]
            self.members.append(Member(keys, token))
        record, self.revoked_token = self.admin.service.create_key(
            self.members[0].keys.uuid, KeyKind.TOKEN
        )
        self.admin.service.revoke_key(record.id)
        self.world = World(tuple(member.keys for member in self.members))

    def teardown(self) -> None:
        try:
            self.check_history()
        finally:
            self.http.close()

    # -- building requests ---------------------------------------------------------------------

    def body(self, caller: int, change: dict[str, Any]) -> tuple[Document, Write]:
        """A valid request body for `caller` (the partner moved out of the caller's
        datacenter), and the write the model reads in it."""
        me = self.members[caller].keys
        partner = change["partner"]
        attributes: dict[str, Any] = {
            "hamr_status": change["hamr_status"],
            "is_primary": change["is_primary"],
            "modified_by": change["modified_by"],
        }
        warned = False
        target: int | Named
        if isinstance(partner, int):
            if self.members[partner].keys.datacenter == me.datacenter:
                partner = next(
                    index
                    for index, member in enumerate(self.members)
                    if member.keys.datacenter != me.datacenter
                )
            them = self.members[partner].keys
            target, target_uuid, target_dc = partner, them.uuid, them.datacenter
            if change["name"] == "sent":
                attributes["target_org_name"] = change["target_org_name"]
                warned = change["target_org_name"] != them.name
            elif change["name"] == "record":
                attributes["target_org_name"] = them.name
            dc_form = change["datacenter"]
        else:  # a target hamr does not know is stored as named, its UUID's case included
            target_uuid = str(partner).upper() if change["upper_case"] else str(partner)
            target_dc = change["partner_datacenter"]
            if target_dc == me.datacenter:
                target_dc = next(dc for dc in DEFAULT_DATACENTERS if dc != me.datacenter)
            target = Named(target_uuid, change["target_org_name"], target_dc)
            attributes["target_org_name"] = change["target_org_name"]
            dc_form = "short" if change["datacenter"] == "omitted" else change["datacenter"]
        if dc_form != "omitted":
            attributes["target_org_datacenter"] = target_dc + (
                LIVE_SUFFIX if dc_form == "live" else ""
            )
        attributes["target_org_uuid"] = target_uuid.upper() if change["upper_case"] else target_uuid
        spelled = {
            "snake": attributes,
            "pascal": {PASCAL_CASE[name]: value for name, value in attributes.items()},
            "both": {
                **attributes,
                **{PASCAL_CASE[name]: value for name, value in attributes.items()},
            },
        }[change["spelling"]]
        if change["extra"]:
            spelled["unknown_attribute"] = {"ignored": True}
        org_id = me.uuid.upper() if change["upper_case"] else me.uuid
        uuid_name = "TargetOrgUuid" if change["spelling"] == "pascal" else "target_org_uuid"
        write = Write(
            caller=caller,
            target=target,
            hamr_status=change["hamr_status"],
            is_primary=change["is_primary"],
            modified_by=change["modified_by"],
            warned=warned,
            target_pointer=f"/data/attributes/{uuid_name}",
        )
        body = {"data": {"id": org_id, "type": RESOURCE_TYPE, "attributes": spelled}}
        return body, write

    def check_answer(self, write: Write, response: httpx.Response) -> Document | None:
        """What every answer to a valid POST must be, whatever the model says: a 200 with a
        document for the caller (warning iff a name other than the record's was sent), or a
        409 JSON:API error pointing at the target. Returns the 200's document."""
        assert response.status_code in (200, 409), response.text
        assert response.headers["content-type"] == "application/json"
        if response.status_code == 409:
            (error,) = response.json()["errors"]
            assert (error["status"], error["title"]) == ("409", "Conflict"), error
            assert error["source"] == {"pointer": write.target_pointer}, error
            assert error["detail"], error
            return None
        document: Document = response.json()
        assert document["data"]["id"] == self.members[write.caller].keys.uuid
        modified_at(document)  # RFC 3339 with microseconds and Z
        warning = response.headers.get(WARNING)
        if write.warned:
            self.reached["200: a name other than the record's, with a warning"] += 1
            assert warning is not None, "a name other than the record's was sent, and no warning"
            assert isinstance(write.target, int)
            assert self.members[write.target].keys.uuid in warning, warning
        else:
            assert warning is None, warning
        return document

    # -- rules ---------------------------------------------------------------------------------

    @rule(caller=orgs, change=changes(), via=st.sampled_from(["keys", "token"]))
    def post_a_valid_change(self, caller: int, change: dict[str, Any], via: str) -> None:
        body, write = self.body(caller, change)
        self.reached[self.world.outcome(write)] += 1
        response = self.http.post(PATH, json=body, headers=self.members[caller].credentials(via))
        document = self.check_answer(write, response)
        after = self.world.explain(write, response.status_code, document)
        assert after is not None, (
            f"the model says {self.world.plan(write)} for {write} in {self.world}; "
            f"hamr said {response.status_code} {response.text}"
        )
        self.world = after

    @rule(
        writes=st.lists(st.tuples(orgs, changes()), min_size=2, max_size=8),
    )
    def post_concurrently(self, writes: list[tuple[int, dict[str, Any]]]) -> None:
        """Several POSTs at once (some from the same organization, some naming the same
        partner): the group-commit writer may write them in one transaction, and a 409 among
        them must fail only itself. hamr's answers must be those of the model applying the
        writes in some order."""
        requests = [self.body(caller, change) for caller, change in writes]

        def send(item: tuple[Document, Write]) -> httpx.Response:
            body, write = item
            return self.http.post(PATH, json=body, headers=self.members[write.caller].keys.headers)

        with ThreadPoolExecutor(max_workers=len(requests)) as pool:
            responses = list(pool.map(send, requests))
        answers = [
            (write, response.status_code, self.check_answer(write, response))
            for (_body, write), response in zip(requests, responses, strict=True)
        ]
        # Try the accepted writes in the order of their stamps first, then the refused ones.
        answers.sort(key=stamp_first)
        statuses = {status for _write, status, _document in answers}
        if statuses == {200, 409}:
            self.reached["concurrent: a 409 beside 200s"] += 1
        after = serialize(self.world, answers)
        assert after is not None, (
            "no order of these writes gives hamr's answers:\n"
            + "\n".join(f"{write} -> {status} {document}" for write, status, document in answers)
            + f"\nfrom {self.world}"
        )
        self.world = after

    @rule(
        caller=orgs,
        change=changes(),
        refusal=st.sampled_from(sorted(REFUSALS)),
        other=orgs,
    )
    def post_a_refused_change(
        self, caller: int, change: dict[str, Any], refusal: str, other: int
    ) -> None:
        if refusal == "member partner in own datacenter, unsaid":
            caller = 3 if caller == 0 else 0  # the two us1 organizations
        if other == caller:
            other = (caller + 1) % ORGS
        me = self.members[caller]
        # The contract's spelling, every attribute sent: each refusal breaks one thing.
        body, _write = self.body(
            caller, {**change, "spelling": "snake", "name": "sent", "datacenter": "short"}
        )
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
            case "datacenter contradicting the record":
                # A member partner, said to be in a datacenter that is neither its own nor the
                # caller's.
                them = next(
                    m.keys
                    for m in self.members[other:] + self.members[:other]
                    if m.keys.datacenter != me.keys.datacenter
                )
                attributes["target_org_uuid"] = them.uuid
                attributes["target_org_datacenter"] = next(
                    dc
                    for dc in DEFAULT_DATACENTERS
                    if dc not in (them.datacenter, me.keys.datacenter)
                )
            case "member partner in own datacenter, unsaid":
                attributes["target_org_uuid"] = self.members[3 - caller].keys.uuid
                del attributes["target_org_datacenter"]
            case "unknown partner without a name":
                attributes["target_org_uuid"] = unknown_uuid(change)
                del attributes["target_org_name"]
            case "unknown partner without a datacenter":
                attributes["target_org_uuid"] = unknown_uuid(change)
                del attributes["target_org_datacenter"]
            case "spellings that disagree":
                attributes["HamrStatus"] = (attributes["hamr_status"] + 1) % 6
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
        if refusal in REFUSAL_POINTERS:
            pointers = [item.get("source", {}).get("pointer") for item in errors]
            assert pointers == [REFUSAL_POINTERS[refusal]], (refusal, errors)

    @rule(reader=orgs)
    def get_with_a_token(self, reader: int) -> None:
        response = self.http.get(PATH, headers=self.members[reader].credentials("token"))
        self.expect_model(reader, response)

    @invariant()
    def every_get_returns_the_readers_side_of_its_connection(self) -> None:
        for reader, member in enumerate(self.members):
            self.expect_model(reader, self.http.get(PATH, headers=member.keys.headers))

    def expect_model(self, reader: int, response: httpx.Response) -> None:
        expected = self.world.view(reader)
        if expected is None:
            assert response.status_code == 404, response.text
            assert response.json()["errors"][0]["status"] == "404"
        else:
            assert response.status_code == 200, response.text
            assert response.headers["content-type"] == "application/json"
            assert same_document(response.json(), expected), (response.json(), expected)

    def check_history(self) -> None:
        """What was acknowledged is what was recorded, in order, and nothing else: each
        member's history is its own writes and every write to the connection it reads."""
        for member, keys in enumerate(self.world.members):
            recorded = [
                (entry.org_uuid, entry.before, entry.after)
                for entry in self.admin.history(keys.uuid)
            ]
            assert recorded == [
                (self.world.members[row.writer].uuid, row.before, row.after)
                for row in self.world.history(member)
            ]


def unknown_uuid(change: dict[str, Any]) -> str:
    """A partner hamr does not know: the change's own, or one derived from its member index."""
    partner = change["partner"]
    return (
        str(partner)
        if not isinstance(partner, int)
        else f"{partner:08x}-5f00-4000-8000-0000000000a2"
    )


def stamp_first(answer: tuple[Write, int, Document | None]) -> tuple[bool, str]:
    document = answer[2]
    return document is None, "" if document is None else document["data"]["attributes"][
        "modified_at"
    ]


def serialize(world: World, answers: list[tuple[Write, int, Document | None]]) -> World | None:
    """The world after `answers`, applied in the first order in which the model gives each of
    them (depth first: a write that fits now is tried before the others)."""
    if not answers:
        return world
    for index, (write, status, document) in enumerate(answers):
        after = world.explain(write, status, document)
        if after is not None:
            found = serialize(after, answers[:index] + answers[index + 1 :])
            if found is not None:
                return found
    return None


@pytest.fixture(scope="module")
def pair_rules_server(
    database_url: str, admin: Admin, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServeProcess]:
    """A server that stores any status move (`--transitions off`): this machine models the
    pair rules; the lifecycle's are tested in tests/api/test_transitions.py."""
    yield from serving(database_url, tmp_path_factory, "--transitions", "off")


def test_get_always_returns_the_readers_side_of_its_connection(
    pair_rules_server: ServeProcess, admin: Admin
) -> None:
    server = pair_rules_server
    reached: Counter[str] = Counter()
    machine = type(
        "Machine", (HamrMachine,), {"server": server, "admin": admin, "reached": reached}
    )
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
    # The runs met every rule of the model: pairs made and written from either side, one-sided
    # connections re-pointed and linked, both kinds of 409, alone and among concurrent writes.
    outcomes = {
        "200: a new pair",
        "200: a new one-sided connection",
        "200: a pair written by the side that made it",
        "200: a pair written by the other side",
        "200: a one-sided connection linked to a member",
        "200: a one-sided connection re-pointed elsewhere",
        "200: a name other than the record's, with a warning",
        REPOINTING,
        TAKEN,
        "concurrent: a 409 beside 200s",
    }
    assert {outcome for outcome in outcomes if reached[outcome] == 0} == set(), reached
