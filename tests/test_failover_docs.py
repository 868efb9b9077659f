"""docs/failover.md's drill, run as printed: its curl block against a real server, and the CLI
block's commands against the same database."""

from __future__ import annotations

import shlex

import pytest

from tests import docs, local_http
from tests.conftest import Admin, OrgKeys, ServeProcess, connection_body, run_cli


@pytest.fixture(scope="module")
def curl() -> None:
    docs.shell_tools("curl", "bash")


def test_the_curl_drill_runs_as_printed(
    curl: None, server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner)
    assert (
        local_http.post(f"{server.url}/api/v2/hamr", json=body, headers=org.headers).status_code
        == 200
    )
    ran = docs.run_block(
        "docs/failover.md",
        "The same drill with curl",
        0,
        url=server.url,
        env={"DD_API_KEY": partner.api_key, "DD_APP_KEY": partner.app_key},
    )
    assert ran.returncode == 0, ran.stderr
    assert '"status_name":"PASSIVE"' in ran.stdout.splitlines()[0]
    statuses = [row.after["hamr_status"] for row in admin.history(org.uuid) if row.after]
    assert statuses == [2, 3, 4, 5, 2]


def test_the_cli_drill_runs_as_printed(
    server: ServeProcess, admin: Admin, org: OrgKeys, partner: OrgKeys
) -> None:
    body = connection_body(org, partner)
    assert (
        local_http.post(f"{server.url}/api/v2/hamr", json=body, headers=org.headers).status_code
        == 200
    )
    for line in docs.block("docs/failover.md", "A drill from the CLI", 0).splitlines():
        words = shlex.split(line, comments=True)
        assert words[0] == "hamr", line
        args = [partner.uuid if w == "$SECONDARY_UUID" else w for w in words[1:]]
        done = run_cli(*args, database_url=server.database_url)
        assert done.returncode == 0, (line, done.stderr)
    statuses = [row.after["hamr_status"] for row in admin.history(org.uuid) if row.after]
    assert statuses == [2, 3, 4, 5, 2]
