"""A state machine of status POSTs and pair operations from both orgs of a pair, over real
HTTP to `hamr serve` under `--transitions warn` and `enforce` (on SQLite and PostgreSQL),
against the lifecycle table (hamr.domain.lifecycle): `enforce` never stores a disallowed move,
`warn` stores every move and marks exactly the disallowed ones, operations walk exactly their
steps or are refused, two operations at once serialize (one wins), the pair's history,
replayed from the start, gives the stored status, and its hash chain verifies."""

from __future__ import annotations

import itertools
import os
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import httpx
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from hamr.domain.lifecycle import OPERATIONS, judge
from hamr.domain.model import HamrStatus, KeyKind, Permission, Policy, Verdict
from tests import local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body, run_cli, serving

EXAMPLES = int(os.environ.get("HAMR_LIFECYCLE_EXAMPLES", "10"))
STEPS = int(os.environ.get("HAMR_LIFECYCLE_STEPS", "25"))
PATH = "/api/v2/hamr"


class LifecycleMachine(RuleBasedStateMachine):
    server: ClassVar[ServeProcess]
    admin: ClassVar[Admin]
    policy: ClassVar[Policy]
    reached: ClassVar[Counter[str]]

    def __init__(self) -> None:
        super().__init__()
        self.http = local_http.client(base_url=self.server.url, timeout=30)
        self.sides: list[OrgKeys] = []
        self.operators: list[dict[str, str]] = []  # admin keys: operations under enforce
        self.status: HamrStatus | None = None
        self.violations = 0
        self.writes = 0

    def teardown(self) -> None:
        self.http.close()
        if self.sides:  # the pair's history chain verifies, after every sequence
            checked = run_cli(
                "history",
                "verify",
                "--org",
                self.sides[0].uuid,
                database_url=self.server.database_url,
            )
            assert checked.returncode == 0, checked.stdout + checked.stderr

    @initialize()
    def link_a_pair(self) -> None:
        self.sides = [self.admin.create_org("us1"), self.admin.create_org("eu1")]
        for side in self.sides:
            secret = self.admin.service.create_key(side.uuid, KeyKind.APP, Permission.ADMIN)[1]
            self.operators.append({"DD-API-KEY": side.api_key, "DD-APPLICATION-KEY": secret})
        self._post(0, HamrStatus.PASSIVE)

    def _post(self, side: int, status: HamrStatus) -> None:
        me, other = self.sides[side], self.sides[1 - side]
        body = connection_body(me, other, hamr_status=int(status), is_primary=side == 0)
        response = self.http.post(PATH, json=body, headers=me.headers)
        move = judge(self.status, status, self.policy)
        self.reached[f"post {move.verdict.value}"] += 1
        if move.verdict is Verdict.REFUSED:
            assert response.status_code == 409, response.text
            (error,) = response.json()["errors"]
            assert error["source"] == {"pointer": "/data/attributes/hamr_status"}
            return
        assert response.status_code == 200, response.text
        warned = "is not a move of the HAMR lifecycle" in response.headers.get("x-hamr-warning", "")
        assert warned is (move.verdict is Verdict.WARNED), (self.status, status, response.headers)
        self.violations += warned
        self.writes += 1
        self.status = status

    @rule(side=st.integers(0, 1), status=st.sampled_from(list(HamrStatus)))
    def post_a_status(self, side: int, status: HamrStatus) -> None:
        self._post(side, status)

    @rule(
        side=st.integers(0, 1),
        operation=st.sampled_from(list(OPERATIONS)),
        hold=st.booleans(),
    )
    def run_an_operation(self, side: int, operation: str, hold: bool) -> None:
        response = self._operate(side, operation, hold)
        self._expect(operation, hold, response)

    @rule(hold=st.booleans())
    def two_operations_at_once(self, hold: bool) -> None:
        """Both sides ask for the operation that starts where the pair is: one wins."""
        starting = [op for op, starts in OPERATIONS.items() if self.status in starts]
        if not starting:
            return
        operation = starting[0]
        with ThreadPoolExecutor(max_workers=2) as pool:
            answers = list(pool.map(lambda side: self._operate(side, operation, hold), (0, 1)))
        assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
        self.reached["concurrent: one wins"] += 1
        self._expect(operation, hold, next(a for a in answers if a.status_code == 200))

    def _operate(self, side: int, operation: str, hold: bool) -> httpx.Response:
        return self.http.post(
            f"{PATH}/pair/{operation}",
            json={"reason": f"{operation} drill", "hold": hold},
            headers=self.operators[side],
        )

    def _expect(self, operation: str, hold: bool, response: httpx.Response) -> None:
        starts = OPERATIONS[operation]
        if self.status not in starts:
            assert response.status_code == 409, response.text
            self.reached["operation refused"] += 1
            return
        assert response.status_code == 200, response.text
        steps = starts[self.status]
        if hold and operation in ("failover", "recover"):
            steps = steps[:1]
        got = [(s["from"], s["to"]) for s in response.json()["meta"]["steps"]]
        walked = [self.status, *steps]
        assert got == [(int(a), int(b)) for a, b in itertools.pairwise(walked)]
        self.reached[f"operation {operation}"] += 1
        self.writes += len(steps)
        self.status = steps[-1]

    @invariant()
    def both_sides_read_the_model_and_history_replays_to_it(self) -> None:
        if not self.sides:
            return
        for side in self.sides:
            read = self.http.get(PATH, headers=side.headers)
            assert read.status_code == 200, read.text
            assert read.json()["data"]["attributes"]["hamr_status"] == int(self.status or 0)
        rows = [row for row in self.admin.history(self.sides[0].uuid) if row.after]
        assert len(rows) == self.writes
        assert rows[-1].after is not None
        assert rows[-1].after["hamr_status"] == int(self.status or 0)
        replayed = None
        for row in rows:
            assert row.before is None or row.before["hamr_status"] == replayed
            replayed = row.after["hamr_status"] if row.after else None
        assert replayed == int(self.status or 0)
        assert sum(row.violation is not None for row in rows) == self.violations
        if self.policy is Policy.ENFORCE:
            assert self.violations == 0


@pytest.fixture(scope="module", params=[Policy.WARN, Policy.ENFORCE], ids=lambda p: p.value)
def policy_server(
    request: pytest.FixtureRequest,
    database_url: str,
    admin: Admin,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Policy, ServeProcess]]:
    policy: Policy = request.param
    for running in serving(database_url, tmp_path_factory, "--transitions", policy.value):
        yield policy, running


def test_the_lifecycle_holds_over_random_sequences(
    policy_server: tuple[Policy, ServeProcess], admin: Admin
) -> None:
    policy, server = policy_server
    reached: Counter[str] = Counter()
    machine: Any = type(
        "Machine",
        (LifecycleMachine,),
        {"server": server, "admin": admin, "policy": policy, "reached": reached},
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    refused_or_warned = "post refused" if policy is Policy.ENFORCE else "post warned"
    for outcome in ("post allowed", refused_or_warned, "operation refused", "concurrent: one wins"):
        assert reached[outcome] > 0, reached
    assert any(reached[f"operation {op}"] for op in OPERATIONS), reached
