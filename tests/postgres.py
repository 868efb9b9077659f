"""The suite's PostgreSQL: the harness's throwaway server (bench/postgres.py: initdb and pg_ctl
in a temporary directory, on a free port, as the `postgres` user when run as root), skipped
without binaries unless CI requires them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.postgres import PostgresServer, binaries

__all__ = ["PostgresServer", "binaries", "binaries_or_skip", "required"]

REQUIRE_ENV = "HAMR_REQUIRE_POSTGRES"


def required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def binaries_or_skip() -> Path:
    """The binaries, or a skip with the reason; a failure instead when CI requires them."""
    bindir = binaries()
    if bindir is None:
        if required():
            pytest.fail(f"{REQUIRE_ENV}=1 but initdb/pg_ctl were not found")
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    return bindir
