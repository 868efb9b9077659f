"""Schema versions: hamr never serves a database written by a newer hamr."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hamr.store.migrate import head_revision
from tests.conftest import free_port, run_cli


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
        f"(which knows up to {head_revision()}); upgrade hamr before serving it"
    )
