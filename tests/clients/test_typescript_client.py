"""Datadog's official TypeScript client, `@datadog/datadog-api-client` from npm, pinned exactly
in typescript/package.json and package-lock.json: the GET page's TypeScript example
(typescript/get.ts) and the POST request written the same way (typescript/create.ts), run by
Node.js against hamr as the server. Each example is bundled once per session with esbuild (what
tsx would run it through, file by file) and the bundle run with `node`: loading the client's
thousands of modules one by one cost ~8 s of CPU a run, the bundle ~1.5 s.

With hamr's default `both`, the client reads the documented attributes into its model (camelCase
when the example prints it) and keeps the live API's beside them, as sent, in the model's
`additionalProperties`; with `--wire contract`, it prints exactly the documented response.

`npm ci` installs typescript/node_modules from the lock file, once per session and only when it
is missing or was installed from another lock file or Node.js. Without node or npm these tests
skip, unless HAMR_REQUIRE_NODE=1 (as in CI) makes that a failure."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests import docs, local_http
from tests.clients.conftest import (
    CLIENTS,
    CONTRACT_ORDER,
    GET_PAGE,
    SEED_ORG_UUID,
    WIRES,
    SeedHamr,
    assert_documented_connection_stored,
    code_lines,
    fenced_blocks,
    live_timestamp,
    replace_once,
    run_example,
    seed_page,
)
from tests.conftest import OrgKeys, connection_body

TYPESCRIPT = CLIENTS / "typescript"
NODE_MODULES = TYPESCRIPT / "node_modules"
# Written into node_modules after a successful `npm ci`, which deletes node_modules first.
INSTALLED_FROM = NODE_MODULES / ".hamr-installed-from"
CLIENT_PACKAGE = "@datadog/datadog-api-client"
SUCCESS = "API called successfully. Returned data: "
# Each run loads the whole client package, seconds of it, and what the client sends and reads
# does not depend on the database behind hamr (the Python and curl examples run on both).
ON_SQLITE = pytest.mark.parametrize("seed_hamr", ["sqlite"], indirect=True)


def node_and_npm() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(tool for tool, path in (("node", node), ("npm", npm)) if not path)
        reason = f"{missing} not found on PATH: Datadog's TypeScript client needs Node.js and npm"
        if os.environ.get("HAMR_REQUIRE_NODE") == "1":
            pytest.fail(f"{reason}, and HAMR_REQUIRE_NODE=1 (as in CI) requires them")
        pytest.skip(reason)
    return node, npm


def installation_key(node: str) -> str:
    """What node_modules must have been installed from: these manifests, this Node.js."""
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((TYPESCRIPT / name).read_bytes())
    runtime = subprocess.run(
        [node, "-p", "[process.version, process.platform, process.arch].join(' ')"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    return f"{digest.hexdigest()} {runtime}\n"


class TypeScript:
    """Runs TypeScript examples with the pinned client: each example file is bundled once."""

    def __init__(self, node: str, bundles: Path):
        self.node = node
        self.bundles = bundles
        self.bundled: dict[Path, Path] = {}

    def bundle(self, example: Path) -> Path:
        if example not in self.bundled:
            out = self.bundles / f"{len(self.bundled)}-{example.stem}.js"
            esbuild = str(NODE_MODULES / ".bin" / "esbuild")
            built = subprocess.run(
                [esbuild, example.name, "--bundle", "--platform=node", f"--outfile={out}"],
                cwd=example.parent,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert built.returncode == 0, f"esbuild {example}:\n{built.stdout}\n{built.stderr}"
            self.bundled[example] = out
        return self.bundled[example]

    def run(self, example: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
        """Run EXAMPLE's bundle from the example's folder, with this environment."""
        return run_example([self.node, str(self.bundle(example))], env, cwd=example.parent)


@pytest.fixture(scope="session")
def typescript(tmp_path_factory: pytest.TempPathFactory) -> TypeScript:
    """typescript/node_modules as the lock file pins it (running `npm ci` if it is missing or
    stale), and a runner of examples with it."""
    node, npm = node_and_npm()
    wanted = installation_key(node)
    # Another pytest process on the same checkout waits rather than install alongside.
    with (TYPESCRIPT / "package-lock.json").open("rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not INSTALLED_FROM.is_file() or INSTALLED_FROM.read_text() != wanted:
            installed = subprocess.run(
                [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                cwd=TYPESCRIPT,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if installed.returncode != 0:
                pytest.fail(
                    f"npm ci in {TYPESCRIPT} failed ({installed.returncode}):\n"
                    f"{installed.stdout}\n{installed.stderr}"
                )
            INSTALLED_FROM.write_text(wanted)
    pins = json.loads((TYPESCRIPT / "package.json").read_text())["devDependencies"]
    client = json.loads((NODE_MODULES / CLIENT_PACKAGE / "package.json").read_text())
    assert client["version"] == pins[CLIENT_PACKAGE]
    return TypeScript(node, tmp_path_factory.mktemp("bundles"))


def run_typescript(typescript: TypeScript, example: str, env: Mapping[str, str]) -> tuple[Any, str]:
    """Run typescript/EXAMPLE: what it logged as returned data (None if nothing), and its
    stderr."""
    result = typescript.run(TYPESCRIPT / example, env)
    # The documented `.catch(console.error)` reports a failed call on stderr and exits 0.
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    returned = [line for line in result.stdout.splitlines() if line.startswith(SUCCESS)]
    if not returned:
        return None, result.stderr
    assert len(returned) == 1, result.stdout
    return json.loads(returned[0].removeprefix(SUCCESS)), result.stderr


def api_exception(stderr: str, status: int) -> Any:
    """The error body of the ApiException the example's catch printed."""
    assert f"ApiException [Error]: HTTP-Code: {status}\nMessage: " in stderr, stderr
    (message,) = re.findall(r"^Message: (.*)$", stderr, re.MULTILINE)
    return json.loads(message)


def as_typescript(document: dict[str, Any]) -> dict[str, Any]:
    """A response document as the example logs the TypeScript client's model: the contract's
    attributes camelCase, and any others (the live API's) as sent, in `additionalProperties`
    (there only if there are any)."""

    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(word.capitalize() for word in rest)

    data = document["data"]
    attributes = {
        camel(name): value for name, value in data["attributes"].items() if name in CONTRACT_ORDER
    }
    others = {
        name: value for name, value in data["attributes"].items() if name not in CONTRACT_ORDER
    }
    if others:
        attributes["additionalProperties"] = others
    return {"data": {**data, "attributes": attributes}}


def test_get_example_is_the_seeds_code_but_for_the_server() -> None:
    (seed,) = fenced_blocks(seed_page(GET_PAGE), "typescript")
    expected = replace_once(
        seed,
        "const configuration = client.createConfiguration();\n",
        "const configuration = client.createConfiguration({\n"
        "  baseServer: new client.BaseServerConfiguration(process.env.HAMR_URL!, {}),\n"
        "});\n",
    )
    example = (TYPESCRIPT / "get.ts").read_text()
    assert code_lines(example, "//") == code_lines(expected, "//")


def test_packages_are_pinned_exactly_and_locked() -> None:
    pins = json.loads((TYPESCRIPT / "package.json").read_text())["devDependencies"]
    assert set(pins) == {CLIENT_PACKAGE, "esbuild"}
    lock = json.loads((TYPESCRIPT / "package-lock.json").read_text())
    assert lock["packages"][""]["devDependencies"] == pins
    for name, version in pins.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} {version} is not an exact pin"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


@ON_SQLITE
@pytest.mark.parametrize("wire", WIRES)
def test_get_example_logs_the_documented_connection(
    typescript: TypeScript, seed_hamr: SeedHamr, wire: str
) -> None:
    seed = seed_hamr.on(wire)
    modified_at = seed.post_documented_body().json()["data"]["attributes"]["modified_at"]

    returned, stderr = run_typescript(typescript, "get.ts", seed.env())

    assert returned == as_typescript(seed.expected(modified_at)), stderr
    assert ("additionalProperties" in returned["data"]["attributes"]) == (wire == "both")


def side_of_a_pair(
    reader: OrgKeys, other: OrgKeys, is_primary: bool, written: dict[str, Any]
) -> dict[str, Any]:
    """`reader`'s side of its pair with `other`, in `both`: its own id, the other as target,
    and the status and `modified_*` the pair shares (from `written`, the writer's answer)."""
    contract = {
        "hamr_status": written["hamr_status"],
        "is_primary": is_primary,
        "modified_at": written["modified_at"],
        "modified_by": written["modified_by"],
        "target_org_datacenter": other.datacenter,
        "target_org_name": other.name,
        "target_org_uuid": other.uuid,
    }
    live = {
        "HamrStatus": written["hamr_status"],
        "IsPrimary": is_primary,
        "ModifiedAt": live_timestamp(written["modified_at"]),
        "ModifiedBy": written["modified_by"],
        "OrgDatacenter": f"{reader.datacenter}.prod.dog",
        "TargetOrgDatacenter": f"{other.datacenter}.prod.dog",
        "TargetOrgName": other.name,
        "TargetOrgUuid": other.uuid,
    }
    return {
        "data": {
            "attributes": {**contract, **live},
            "id": reader.uuid,
            "type": "hamr_org_connections",
        }
    }


@ON_SQLITE
def test_get_example_reads_each_side_of_a_pair(typescript: TypeScript, seed_hamr: SeedHamr) -> None:
    """Two organizations of this hamr, linked by one POST from the primary: the example run
    with either one's keys logs that one's side of the pair's one connection, and keeps the
    live API's attributes (HamrStatus and the rest) as hamr sent them."""
    admin = seed_hamr.admin
    primary = admin.create_org("eu1", "Acme Production")
    backup = admin.create_org("us5", "Acme Backup")
    body = connection_body(primary, backup, hamr_status=2, modified_by="dr-bot@example.com")
    posted = local_http.post(
        seed_hamr.server.url + "/api/v2/hamr", headers=primary.headers, json=body, timeout=10
    )
    assert posted.status_code == 200, posted.text
    written = posted.json()["data"]["attributes"]

    logged = {}
    for org in (primary, backup):
        returned, stderr = run_typescript(typescript, "get.ts", seed_hamr.env(org))
        assert returned is not None, stderr
        logged[org.uuid] = returned

    on_primary, on_backup = logged[primary.uuid], logged[backup.uuid]
    assert on_primary == as_typescript(side_of_a_pair(primary, backup, True, written))
    assert on_backup == as_typescript(side_of_a_pair(backup, primary, False, written))
    # Read apart, the two sides: own ids, each other as target, opposite isPrimary, one status
    # and one modifiedAt; and the live spelling kept by the client, HamrStatus included.
    mine, theirs = on_primary["data"], on_backup["data"]
    assert (mine["id"], theirs["id"]) == (primary.uuid, backup.uuid)
    assert mine["attributes"]["targetOrgUuid"] == backup.uuid
    assert theirs["attributes"]["targetOrgUuid"] == primary.uuid
    assert mine["attributes"]["isPrimary"] is True
    assert theirs["attributes"]["isPrimary"] is False
    for side in (mine, theirs):
        assert side["attributes"]["hamrStatus"] == 2
        assert side["attributes"]["modifiedAt"] == written["modified_at"]
        assert side["attributes"]["additionalProperties"]["HamrStatus"] == 2
    # And each is what hamr serves that side over plain HTTP.
    for org in (primary, backup):
        assert logged[org.uuid] == as_typescript(seed_hamr.get(org).json())


@ON_SQLITE
def test_get_example_before_any_post_is_the_documented_404(
    typescript: TypeScript, seed_hamr: SeedHamr
) -> None:
    stranger = seed_hamr.stranger

    returned, stderr = run_typescript(typescript, "get.ts", seed_hamr.env(stranger))

    assert returned is None
    body = api_exception(stderr, 404)
    assert body == seed_hamr.get(stranger).json()
    (error,) = body["errors"]
    assert (error["status"], error["title"]) == ("404", "Not Found")


@ON_SQLITE
@pytest.mark.parametrize("wire", WIRES)
def test_create_example_stores_the_documented_connection(
    typescript: TypeScript, seed_hamr: SeedHamr, wire: str
) -> None:
    seed = seed_hamr.on(wire)
    history_before = len(seed.admin.history(SEED_ORG_UUID))

    returned, stderr = run_typescript(typescript, "create.ts", seed.env())

    assert returned is not None, stderr
    modified_at = returned["data"]["attributes"]["modifiedAt"]
    assert returned == as_typescript(seed.expected(modified_at))
    assert_documented_connection_stored(seed, history_before, modified_at)


@ON_SQLITE
def test_the_documented_example_logs_the_connection(
    typescript: TypeScript, seed_hamr: SeedHamr, tmp_path: Path
) -> None:
    """docs/api.md's example as printed, but for hamr's address and the org's keys in place of
    its placeholders; run beside the pinned client's node_modules."""
    seed = seed_hamr.on("both")
    modified_at = seed.post_documented_body().json()["data"]["attributes"]["modified_at"]
    example = (
        docs.block("docs/api.md", "Clients", 0)
        .replace(docs.DOCUMENTED_URL, seed.server.url)
        .replace("<DD-API-KEY>", seed.org.api_key)
        .replace("<DD-APPLICATION-KEY>", seed.org.app_key)
    )
    (tmp_path / "example.ts").write_text(example, encoding="utf-8")
    (tmp_path / "node_modules").symlink_to(NODE_MODULES)

    result = typescript.run(tmp_path / "example.ts", seed.env())

    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert json.loads(result.stdout) == as_typescript(seed.expected(modified_at))
