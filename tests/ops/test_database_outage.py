"""While the database is away the background loops look at its port before asking the pool
(server/database_outage.py): a refused port means not asking, an accepting one means asking.
Real sockets; the loops' use of it, end to end, is test_postgres_processes.py's outage test."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from hamr.server.database_outage import DatabaseOutage, database_address


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("postgresql+psycopg://hamr:secret@db.example:6543/hamr", ("db.example", 6543)),
        ("postgresql://hamr@localhost/hamr", ("localhost", 5432)),
        ("postgresql:///hamr?host=/var/run/postgresql", None),  # a Unix socket
        ("postgresql://hamr@/hamr?host=db1:5432,db2:5432", None),  # libpq's hosts in turn
        ("sqlite:////var/lib/hamr/hamr.db", None),
    ],
)
def test_the_address_looked_at(url: str, address: tuple[str, int] | None) -> None:
    assert database_address(url) == address


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_port_is_not_worth_asking_while_away() -> None:
    outage = DatabaseOutage(("127.0.0.1", closed_port()))
    # Not away: the pool is asked, with no look first.
    assert asyncio.run(outage.worth_asking()) is True
    outage.found_away("connection refused")
    assert outage.away
    assert asyncio.run(outage.worth_asking()) is False


def test_an_accepting_port_is_worth_asking_while_away() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        outage = DatabaseOutage(("127.0.0.1", listening.getsockname()[1]))
        outage.found_away("connection refused")
        assert asyncio.run(outage.worth_asking()) is True


def test_without_an_address_the_pool_is_always_asked() -> None:
    outage = DatabaseOutage(None)
    outage.found_away("database is locked")
    assert asyncio.run(outage.worth_asking()) is True


def test_an_outage_is_told_when_it_starts_and_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outage = DatabaseOutage(None)
    with caplog.at_level(logging.WARNING, logger="hamr.server.database_outage"):
        for _ in range(3):  # both loops find it away, again and again
            outage.found_away("connection refused")
        outage.found_back()
        outage.found_back()
    assert [record.getMessage() for record in caplog.records] == [
        "the database is unreachable",
        "the database is back",
    ]
    assert not outage.away
