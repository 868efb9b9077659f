"""A throwaway PostgreSQL server: initdb and pg_ctl in a temporary directory, on a free port,
run as the `postgres` user when the caller is root (PostgreSQL refuses to run as root).

Standard library only, and no bench module imported, so that tests/postgres.py can share it
(`from bench.postgres import PostgresServer, binaries`) without the harness importing tests.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, preferring PostgreSQL 15."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


class PostgresServer:
    """`prefix` goes before every command (the harness pins the server with `taskset`); the
    postmaster and its backends inherit it from pg_ctl."""

    def __init__(self, bindir: Path, port: int, prefix: Sequence[str] = ()):
        self.bindir = bindir
        self.port = port
        self.prefix = list(prefix)
        self.base = Path(tempfile.mkdtemp(prefix="hamr-pg-"))
        self.data = self.base / "data"
        self.log = self.base / "postgres.log"
        self._as_postgres: dict[str, Any] = {}
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
            self._as_postgres = {"user": "postgres", "group": "postgres"}

    @property
    def url(self) -> str:
        return self.url_for("hamr")

    def url_for(self, database: str) -> str:
        return f"postgresql://hamr@127.0.0.1:{self.port}/{database}"

    def _run(self, *command: str) -> None:
        subprocess.run(
            [*self.prefix, str(self.bindir / command[0]), *command[1:]],
            check=True,
            capture_output=True,
            timeout=600,  # createdb copying a seeded 1,000,000-org template takes a while
            **self._as_postgres,
        )

    def init(self) -> PostgresServer:
        self._run("initdb", "-D", str(self.data), "-U", "hamr", "--auth=trust", "-E", "UTF8")
        return self.start()

    def start(self) -> PostgresServer:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")
        return self

    def follow(self, primary: PostgresServer) -> PostgresServer:
        """Make this a streaming replica of `primary` (a base backup that keeps streaming from
        it), and start it."""
        self._run(
            "pg_basebackup",
            *("-D", str(self.data), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "hamr"),
            *("-R", "-X", "stream", "-c", "fast"),
        )
        return self.start()

    def create_database(self, name: str = "hamr", template: str | None = None) -> None:
        """A new database, empty or a copy of `template` (which nothing may be connected to)."""
        copy = ("-T", template) if template else ()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "hamr", *copy, name)

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def processes(self) -> list[int]:
        """The postmaster and every process it started (the backends clients are connected
        to): what to stop with SIGSTOP to make the server hang."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        children = subprocess.run(
            ["ps", "-o", "pid=", "--ppid", str(postmaster)], capture_output=True, text=True
        ).stdout.split()
        return [postmaster, *map(int, children)]

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)
