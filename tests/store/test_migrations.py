"""Schema versions: hamr never serves a database written by a newer hamr."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
from pathlib import Path

from hamr.store.migrate import HEAD_REVISION, scripts_head
from tests.conftest import PYTHON, ServeProcess, free_port, run_cli, sqlite_url


def test_serve_refuses_a_schema_newer_than_itself(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'future.db'}"
    assert run_cli("db", "upgrade", database_url=database_url).returncode == 0
    with sqlite3.connect(tmp_path / "future.db") as db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    result = run_cli("serve", "--port", str(free_port()), database_url=database_url)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "Error: the database schema (revision 9999) is newer than this hamr "
        f"(which knows up to {HEAD_REVISION}); upgrade hamr before serving it"
    )


def test_the_head_revision_hamr_knows_is_the_newest_script() -> None:
    assert scripts_head() == HEAD_REVISION


# Opens the store as `hamr serve` does, twice: the first creates the schema, the second finds
# it current. Prints the heavy modules loaded by then.
_OPEN_TWICE = """
import sys
from hamr.store.sql import open_store
url = sys.argv[1]
open_store(url).close()
loaded_on_create = "alembic" in sys.modules
for name in [m for m in sys.modules if m.split(".")[0] in ("alembic", "mako")]:
    del sys.modules[name]
open_store(url).close()
import hamr.cli.main
print(loaded_on_create, sorted({m.split(".")[0] for m in sys.modules} & {"alembic", "httpx"}))
"""


def test_a_server_on_a_current_database_loads_neither_alembic_nor_httpx(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'current.db'}"
    result = subprocess.run(
        [PYTHON, "-c", _OPEN_TWICE, database_url], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "[]"]


def test_serve_on_a_fresh_database_logs_one_line_per_migration(tmp_path: Path) -> None:
    """Not Alembic's plugins and context, nor each migration's docstring over several lines:
    a line per revision, in order, as an operator reads the text log."""
    environment = {**os.environ, "HAMR_LOG_FORMAT": "text"}
    server = ServeProcess(
        sqlite_url(tmp_path / "fresh.db"), tmp_path / "serve.log", env=environment
    )
    try:
        log = server.start().log()
    finally:
        server.stop()
    start = log.splitlines()[: log.count("\n", 0, log.index("Started server process"))]
    assert all(re.match(r"\d{4}-\d\d-\d\d \d\d:", line) for line in start), start
    assert "alembic" not in log
    upgraded = re.findall(r"database schema upgraded to (\d{4}): \S", log)
    assert upgraded == [f"{n:04d}" for n in range(1, int(HEAD_REVISION) + 1)]
