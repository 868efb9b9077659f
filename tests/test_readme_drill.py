"""README.md's "Failover and recovery" drill, run as printed: its curl block against a real
server, and the CLI block's commands against the same database."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess

import httpx
import pytest

from tests import apt
from tests.conftest import ROOT, Admin, HamrServer, OrgKeys, connection_body, run_cli

README = (ROOT / "README.md").read_text()


def block_after(intro: str) -> str:
    found = re.search(re.escape(intro) + r"\n\n```sh\n(.*?)```", README, re.DOTALL)
    assert found is not None, f"README has no sh block after {intro!r}"
    return found.group(1)


@pytest.fixture(scope="module")
def curl() -> None:
    for tool in ("curl", "bash"):
        if shutil.which(tool) is None:
            problem = apt.install(tool)
            if shutil.which(tool) is None:
                pytest.fail(f"the README's drill needs {tool}: {problem}")


def test_the_curl_drill_runs_as_printed(
    curl: None, server: HamrServer, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner)
    assert (
        httpx.post(f"{server.url}/api/v2/hamr", json=body, headers=org.headers).status_code == 200
    )
    script = block_after("and the same with curl:").replace("http://127.0.0.1:8080", server.url)
    env = {**os.environ, "DD_API_KEY": partner.api_key, "DD_APP_KEY": partner.app_key}
    ran = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert '"status_name":"PASSIVE"' in ran.stdout.splitlines()[0]
    statuses = [row.after["hamr_status"] for row in admin.history(org.uuid) if row.after]
    assert statuses == [2, 3, 4, 5, 2]


def test_the_cli_drill_runs_as_printed(
    server: HamrServer, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner)
    assert (
        httpx.post(f"{server.url}/api/v2/hamr", json=body, headers=org.headers).status_code == 200
    )
    for line in block_after(
        "would do with `X-Hamr-Dry-Run: true` and stores nothing. A drill from the CLI:"
    ).splitlines():
        words = shlex.split(line, comments=True)
        assert words[0] == "hamr", line
        args = [partner.uuid if w == "$SECONDARY_UUID" else w for w in words[1:]]
        done = run_cli(*args, database_url=server.database_url)
        assert done.returncode == 0, (line, done.stderr)
    statuses = [row.after["hamr_status"] for row in admin.history(org.uuid) if row.after]
    assert statuses == [2, 3, 4, 5, 2]
