"""One three-site cluster for the session (deploy/multi-site/lab.py, brought up and stopped by
docs/multi-site.md's commands as printed), shared by every drill: a cold start costs ~15 s and
each drill leaves it whole again (a leader, a synchronous standby, three hamr).

The lab runs PostgreSQL, etcd and Patroni as the `postgres` user, so it needs root: without
it the drills skip, unless CI requires them (HAMR_REQUIRE_ROOT=1), where they fail."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.drills import load_lab
from tests import docs

REQUIRE_ENV = "HAMR_REQUIRE_ROOT"


@pytest.fixture(scope="package")
def lab_env() -> Iterator[dict[str, str]]:
    """The environment the documented commands run in: a lab root of the session's own
    (under /var/tmp, which `postgres` can reach; pytest's own temporary folders it cannot)."""
    if os.geteuid() != 0:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but the multi-site drills are not running as root")
        pytest.skip("the multi-site lab runs PostgreSQL, etcd and Patroni as `postgres`: root only")
    root = Path(tempfile.mkdtemp(prefix="hamr-lab-", dir="/var/tmp"))
    yield {"HAMR_LAB_ROOT": str(root)}
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="package")
def lab(lab_env: dict[str, str]) -> Iterator[Any]:
    """The three sites, up: started by the documented `up`, stopped by the documented `down`
    (whatever a drill left frozen or killed) once this package's tests are done, so that the
    rest of the suite does not share the machine with nine idle servers."""
    module = load_lab()
    up = docs.run_sh(
        docs.block("docs/multi-site.md", "Start three sites", 0),
        env=lab_env,
        cwd=docs.ROOT,
        timeout=900,
    )
    try:
        assert up.returncode == 0, f"the lab did not come up:\n{up.stdout}\n{up.stderr}"
        root = Path(lab_env["HAMR_LAB_ROOT"])
        yield module.Lab(root, module.default_cache(), module.namespaces_setting())
    finally:
        down = docs.run_sh(
            docs.block("docs/multi-site.md", "Stop the lab", 0), env=lab_env, cwd=docs.ROOT
        )
        assert down.returncode == 0, down.stderr
