"""The emulator's state outside the API: a state file loaded at start (`--state FILE`), refused
in one sentence naming the file when it cannot be; and a state taken on one backend loads on
the other, the same row for row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hamr.domain.errors import ValidationFailed, Violation
from hamr.domain.model import KeyKind
from hamr.emulator.clock import VirtualClock
from hamr.emulator.faults.rules import FaultRules
from hamr.emulator.state import Emulator, Seed
from hamr.settings import Settings, SettingsError
from hamr.store.sql import open_store
from hamr.store.state_dump import MAX_REPORTED
from hamr.usecases.service import HamrService
from tests.conftest import sqlite_url
from tests.postgres import PostgresServer


@contextmanager
def emulator_on(database_url: str) -> Iterator[Emulator]:
    store = open_store(database_url)
    try:
        yield Emulator(
            HamrService(store.unit_of_work, store.view, Settings().datacenters),
            VirtualClock(),
            FaultRules(),
        )
    finally:
        store.close()


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    with emulator_on(sqlite_url(tmp_path / "emulator.db")) as made:
        yield made


def test_a_state_file_is_loaded_and_its_keys_work(emulator: Emulator, tmp_path: Path) -> None:
    production = emulator.reset(Seed.DEMO)[0]
    document = emulator.state()
    path = tmp_path / "state.json"
    path.write_text(json.dumps(document))
    emulator.reset(Seed.EMPTY)

    emulator.load_state_file(path)

    assert emulator.state() == document
    found = emulator.service.identify(production.api_key, KeyKind.API)
    assert found is not None
    assert found.org == production.org


@pytest.mark.parametrize(
    ("contents", "says"),
    [
        (None, "does not exist"),
        (b"{not json", "is not JSON"),
        (b"\xff\xfe\xfa", "is not JSON"),
        (b"[]", 'at the top, Send the document GET /_hamr/state gives: {"data"'),
        (
            b'{"data": {"type": "hamr_emulator_state", "id": "state", "attributes": {}}}',
            "at /data/attributes/format, format must be 1, the format of this hamr; got none",
        ),
        (
            b'{"data": {"type": "hamr_emulator_state", "id": "state", '
            b'"attributes": {"format": 1}}}',
            "at /data/attributes/orgs, orgs is missing; send its rows ([] for none) (and 4 more",
        ),
    ],
)
def test_a_state_file_that_cannot_be_loaded_is_one_sentence_naming_it_and_changes_nothing(
    emulator: Emulator, tmp_path: Path, contents: bytes | None, says: str
) -> None:
    emulator.reset(Seed.DEMO)
    before = emulator.state()
    path = tmp_path / "state.json"
    if contents is not None:
        path.write_bytes(contents)

    with pytest.raises(SettingsError) as refused:
        emulator.load_state_file(path)

    message = str(refused.value)
    assert message.startswith(f"the state file {path} ")
    assert says in message
    assert "\n" not in message
    assert emulator.state() == before


def test_a_state_wrong_everywhere_is_told_twenty_problems_at_a_time(emulator: Emulator) -> None:
    document = emulator.state()
    document["data"]["attributes"]["orgs"] = [{"uuid": n} for n in range(100)]

    with pytest.raises(ValidationFailed) as refused:
        emulator.load_state(document)

    problems = refused.value.violations()
    assert len(problems) == MAX_REPORTED == 20
    assert problems[0] == Violation(
        "/data/attributes/orgs/0/uuid", "uuid must be a string of at most 36 characters; got 0."
    )


def test_a_directory_is_not_a_state_file(emulator: Emulator, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=f"the state file {tmp_path} cannot be read: "):
        emulator.load_state_file(tmp_path)


def test_a_state_taken_on_sqlite_loads_on_postgresql_row_for_row(
    tmp_path: Path, postgres: PostgresServer
) -> None:
    postgres.create_database("hamr_state_dump")
    with emulator_on(sqlite_url(tmp_path / "origin.db")) as origin:
        production, backup = origin.reset(Seed.DEMO)
        principal = origin.service.identify(backup.api_key, KeyKind.API)
        assert principal is not None
        origin.service.pairs.run(principal, "failover", "drill")
        document = origin.state()
    loaded = document["data"]["attributes"]["history"]
    assert len(loaded) > 2

    with emulator_on(postgres.url_for("hamr_state_dump")) as target:
        target.load_state(document)

        assert target.state() == document
        assert target.service.identify(production.app_key, KeyKind.APP) is not None
        target.service.pairs.unlink(backup.org.uuid, "drill over")  # new ids past the loaded
        assert target.state()["data"]["attributes"]["history"][: len(loaded)] == loaded
        assert target.service.verify_history().broken is None
