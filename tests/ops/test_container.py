"""The container image (Containerfile, docs/container.md) built and run with rootful podman as
the documentation says, from a base made of Debian's packages (no registry is reachable here):
/healthz, the demo's GET with the keys it printed, the emulator's reset with the admin token it
printed, `podman healthcheck run`, a user without privileges and the database on /data; then
docs/ci.md's service containers run from it as GitHub Actions and GitLab CI run them.

podman, runc and mmdebstrap are installed with apt when missing, which takes root: without
it, or when they cannot be installed, the tests skip, and fail instead under
HAMR_REQUIRE_ROOT=1 (CI, which runs as root). The base is kept under /var/tmp between runs."""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from hamr.domain.model import HamrStatus
from hamr.settings import ADMIN_HEADER
from tests import apt, docs, local_http
from tests.conftest import ROOT, free_port
from tests.test_ci_recipes import DOCUMENTED_IMAGE, Steps, workflow

REQUIRE_ENV = "HAMR_REQUIRE_ROOT"
# The programs the tests use, each with the Debian package that brings it.
TOOLS = {"podman": "podman", "runc": "runc", "mmdebstrap": "mmdebstrap"}
BASE_CACHE = Path("/var/tmp/hamr-container-base")
DOCUMENTED_BASE = "localhost/hamr-base:bookworm"
BUILD_TIMEOUT = 900
START_TIMEOUT = 60
HAMR = "/api/v2/hamr"
PASSIVE = int(HamrStatus.PASSIVE)
KEYS = re.compile(
    r"^  (?P<name>.+?) \((?P<datacenter>[a-z0-9-]+)\)  uuid (?P<uuid>\S+)\n"
    r"    DD-API-KEY +(?P<api_key>[0-9a-f]{32})\n"
    r"    DD-APPLICATION-KEY +(?P<app_key>[0-9a-f]{40})$",
    re.MULTILINE,
)
TOKEN = re.compile(rf"send {ADMIN_HEADER}: (\S+)")


def unavailable(reason: str) -> None:
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
    pytest.skip(reason)


@dataclass
class Podman:
    """Rootful podman with the documented CONTAINERS_CONF, and what the tests made with it."""

    env: dict[str, str]
    containers: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    def __call__(self, *args: str, timeout: float = 120, check: bool = True) -> str:
        ran = subprocess.run(
            ["podman", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )
        if check:
            assert ran.returncode == 0, f"podman {shlex.join(args)}: {ran.stderr[-3000:]}"
        return ran.stdout

    def sh(self, script: str, timeout: float = 120, **kwargs: Any) -> str:
        """A documented podman command run by bash, with this podman's environment."""
        ran = docs.run_sh(script, env=self.env, timeout=timeout, **kwargs)
        assert ran.returncode == 0, f"{script}\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}"
        return str(ran.stdout)

    def name(self) -> str:
        made = f"hamr-test-{uuid.uuid4().hex[:10]}"
        self.containers.append(made)
        return made

    def volume(self) -> str:
        made = f"hamr-test-data-{uuid.uuid4().hex[:10]}"
        self.volumes.append(made)
        return made

    def logs(self, container: str) -> str:
        ran = subprocess.run(
            ["podman", "logs", container], capture_output=True, text=True, env=self.env
        )
        return ran.stdout + ran.stderr

    def wait_until_healthy(self, container: str, url: str) -> None:
        """/healthz answering 200 from the host, and then the image's HEALTHCHECK passing when
        asked (podman runs no healthcheck timer without systemd)."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if local_http.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            running = self("inspect", "--format", "{{.State.Running}}", container).strip()
            assert running == "true", f"{container} stopped:\n{self.logs(container)}"
            assert time.monotonic() < deadline, f"no /healthz:\n{self.logs(container)}"
            time.sleep(0.2)
        checked = subprocess.run(
            ["podman", "healthcheck", "run", container],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=60,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr

    def printed(self, container: str, pattern: re.Pattern[str], count: int) -> list[Any]:
        """What the container printed at start that `pattern` finds, `count` of them."""
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            found = list(pattern.finditer(self.logs(container)))
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"not printed:\n{self.logs(container)}"
            time.sleep(0.2)

    def clean(self) -> None:
        for container in self.containers:
            self("rm", "--force", "--volumes", "--time", "2", container, check=False)
        for volume in self.volumes:
            self("volume", "rm", "--force", volume, check=False)


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Podman]:
    if os.geteuid() != 0:
        unavailable("building and running the image takes rootful podman: run as root")
    for tool, package in TOOLS.items():
        if shutil.which(tool) is None:
            problem = apt.install(package)
            if shutil.which(tool) is None:
                unavailable(problem or f"apt-get installed {package} but {tool} is not on PATH")
    conf = tmp_path_factory.mktemp("podman") / "containers.conf"
    conf.write_text(docs.block("docs/container.md", "How the test builds it", 1))
    made = Podman({**os.environ, "CONTAINERS_CONF": str(conf)})
    try:
        yield made
    finally:
        made.clean()


@pytest.fixture(scope="module")
def base(podman: Podman) -> str:
    """The documented base from Debian's packages: imported from the tarball kept under
    /var/tmp when podman no longer has it, made (about 30 s) when neither is there. Both are
    named by the recipe's hash, so a changed recipe makes a new one."""
    recipe = docs.block("docs/container.md", "How the test builds it", 0)
    make, load = recipe.replace("\\\n", " ").strip().splitlines()
    assert make.startswith("mmdebstrap ")
    assert load == f"podman import rootfs.tar {DOCUMENTED_BASE}"
    key = hashlib.sha256(recipe.encode()).hexdigest()[:16]
    image = f"localhost/hamr-base:{key}"
    if _exists(podman, image):
        return image
    cache = BASE_CACHE / key
    if not (cache / "rootfs.tar").exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=cache.parent))
        try:
            podman.sh(make, timeout=BUILD_TIMEOUT, cwd=work)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)  # no half-made tarball is kept
            raise
        shutil.rmtree(cache, ignore_errors=True)
        work.rename(cache)
    podman.sh(load.replace(DOCUMENTED_BASE, image), timeout=BUILD_TIMEOUT, cwd=cache)
    return image


def _exists(podman: Podman, image: str) -> bool:
    return (
        subprocess.run(["podman", "image", "exists", image], env=podman.env, check=False)
    ).returncode == 0


@pytest.fixture(scope="module")
def image(podman: Podman, base: str) -> str:
    """hamr's image, built as documented from this checkout with the local base (the dependencies'
    layer stays cached in podman's storage while pyproject.toml does not change)."""
    assert shlex.split(docs.block("docs/container.md", "Build", 0)) == [
        *("podman", "build", "--format", "docker", "-t", "hamr", "."),
    ]
    documented = docs.block("docs/container.md", "Build", 1)
    tag = "localhost/hamr-test:latest"
    assert "-t hamr \\\n" in documented
    script = documented.replace("-t hamr \\\n", f"-t {tag} --build-arg BASE={base} \\\n")
    started = time.monotonic()
    podman.sh(script, timeout=BUILD_TIMEOUT, cwd=ROOT)
    print(f"hamr's image built in {time.monotonic() - started:.0f} s")
    # The image this tag named before, if any, is left without a name: drop it.
    podman("image", "prune", "--force", check=False)
    return tag


def demo_keys(podman: Podman, container: str) -> dict[str, re.Match[str]]:
    return {m["name"]: m for m in podman.printed(container, KEYS, 2)}


def reads_the_pair(url: str, org: re.Match[str] | Mapping[str, str]) -> dict[str, Any]:
    keys = {"DD-API-KEY": org["api_key"], "DD-APPLICATION-KEY": org["app_key"]}
    got = local_http.get(f"{url}{HAMR}", headers=keys, timeout=10)
    assert got.status_code == 200, got.text
    document: dict[str, Any] = got.json()
    return document


def test_the_image_is_configured_as_documented(podman: Podman, image: str) -> None:
    config = podman("image", "inspect", "--format", "{{json .Config}}", image)
    assert '"8080/tcp"' in config
    assert '"/data"' in config
    assert '"User":"hamr"' in config.replace(" ", "")
    healthcheck = podman("image", "inspect", "--format", "{{json .HealthCheck}}", image)
    assert "/healthz" in healthcheck  # kept by --format docker


def test_the_documented_run_serves_the_demo_as_a_user_without_privileges(
    podman: Podman, image: str
) -> None:
    name, volume, port = podman.name(), podman.volume(), free_port()
    url = f"http://127.0.0.1:{port}"
    documented = docs.block("docs/container.md", "Run", 0)
    script = documented
    for old, new in (
        ("--name hamr ", f"--name {name} "),
        ("-p 8080:8080", f"-p 127.0.0.1:{port}:8080"),
        ("-v hamr-data:/data hamr\n", f"-v {volume}:/data {image}\n"),
        ("podman logs hamr\n", f"podman logs {name}\n"),
    ):
        assert old in script, f"{old!r} is no longer in {documented!r}"
        script = script.replace(old, new)
    podman.sh(script)
    podman.wait_until_healthy(name, url)
    keys = demo_keys(podman, name)
    connection = reads_the_pair(url, keys["Production Org"])
    assert connection["data"]["attributes"]["hamr_status"] == PASSIVE  # linked, at rest
    reads_the_pair(url, keys["Production Backup Org"])
    assert podman("exec", name, "id", "-u").strip() == "10001"
    assert "hamr.db" in podman("exec", name, "ls", "/data").split()
    # Without HAMR_EMULATOR the admin API is not there, and no token was printed.
    assert local_http.post(f"{url}/_hamr/reset").status_code == 404
    assert TOKEN.search(podman.logs(name)) is None


def test_the_emulator_prints_its_admin_token_and_resets_with_it(podman: Podman, image: str) -> None:
    name, port = podman.name(), free_port()
    url = f"http://127.0.0.1:{port}"
    podman(
        "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8080", "-e", "HAMR_EMULATOR=1", image
    )
    podman.wait_until_healthy(name, url)
    token = podman.printed(name, TOKEN, 1)[0][1]
    keys = demo_keys(podman, name)
    reads_the_pair(url, keys["Production Org"])
    reset = local_http.post(
        f"{url}/_hamr/reset", headers={ADMIN_HEADER: token}, json={"seed": "demo"}, timeout=10
    )
    assert reset.status_code == 200, reset.text
    orgs = reset.json()["data"]["attributes"]["orgs"]
    assert [org["name"] for org in orgs] == ["Production Org", "Production Backup Org"]
    # The reset issued new keys: the ones printed at start went with what it deleted.
    old = keys["Production Org"]
    stale = {"DD-API-KEY": old["api_key"], "DD-APPLICATION-KEY": old["app_key"]}
    assert local_http.get(f"{url}{HAMR}", headers=stale, timeout=10).status_code in (401, 403)
    reads_the_pair(url, {"api_key": orgs[0]["api_key"], "app_key": orgs[0]["app_key"]})


def test_the_documented_emulator_run_takes_a_token_of_its_own(podman: Podman, image: str) -> None:
    name, port = podman.name(), free_port()
    url = f"http://127.0.0.1:{port}"
    documented = docs.block("docs/container.md", "Run", 1)
    start, call = documented.split("curl ", 1)
    for old, new in (
        ("--name hamr-emulator ", f"--name {name} "),
        ("-p 8080:8080", f"-p 127.0.0.1:{port}:8080"),
        ("-characters hamr\n", f"-characters {image}\n"),
    ):
        assert old in start, f"{old!r} is no longer in {documented!r}"
        start = start.replace(old, new)
    podman.sh(start)
    podman.wait_until_healthy(name, url)
    reset = docs.documents(podman.sh("curl " + call, url=url))
    assert [org["name"] for org in reset[0]["data"]["attributes"]["orgs"]] == [
        "Production Org",
        "Production Backup Org",
    ]
    assert TOKEN.search(podman.logs(name)) is None  # given, so not printed


def service_run(service: Mapping[str, Any], env: Mapping[str, str], **publish: Any) -> list[str]:
    """The `podman run` arguments of a CI service: its environment, options and ports."""
    args = ["run", "-d", "--name", publish["name"]]
    for variable, value in env.items():
        args += ["-e", f"{variable}={value}"]
    args += shlex.split(service.get("options", ""))
    args += ["-p", f"127.0.0.1:{publish['port']}:8080", publish["image"]]
    return args


def test_the_github_actions_service_container_job(
    podman: Podman, image: str, tmp_path: Path
) -> None:
    docs.shell_tools("curl", "jq")
    job = workflow(docs.block("docs/ci.md", "GitHub Actions: a service container", 0))["jobs"][
        "dr-tests"
    ]
    service = job["services"]["hamr"]
    assert service["image"] == DOCUMENTED_IMAGE
    assert service["ports"] == ["8080:8080"]
    name, port = podman.name(), free_port()
    url = f"http://127.0.0.1:{port}"
    env = {variable: str(value) for variable, value in service["env"].items()}
    podman(*service_run(service, env, name=name, port=port, image=image))
    # GitHub waits for the HEALTHCHECK to pass before the first step.
    podman.wait_until_healthy(name, url)
    steps = Steps(tmp_path, os.environ)
    try:

        def uses(step: Mapping[str, Any]) -> None:
            assert step["uses"].startswith("actions/checkout@")

        outputs = steps.github(
            job, localize=lambda text: text.replace("http://127.0.0.1:8080", url), uses=uses
        )
    finally:
        steps.stop()
    assert yaml.safe_load(outputs[-1])["data"]["attributes"]["hamr_status"] == PASSIVE


def test_the_gitlab_ci_service_job(podman: Podman, image: str, tmp_path: Path) -> None:
    docs.shell_tools("curl")
    pipeline = yaml.safe_load(docs.block("docs/ci.md", "GitLab CI: a service", 0))
    job = pipeline["dr-tests"]
    [service] = job["services"]
    assert service["name"] == DOCUMENTED_IMAGE
    assert service["alias"] == "hamr"
    name, port = podman.name(), free_port()
    url = f"http://127.0.0.1:{port}"
    # GitLab passes the job's variables to its services, beside the service's own.
    env = {
        variable: str(value)
        for variable, value in {**job["variables"], **service["variables"]}.items()
    }
    podman(*service_run(service, env, name=name, port=port, image=image))
    steps = Steps(tmp_path, os.environ)
    try:
        output = steps.gitlab(job, localize=lambda text: text.replace("http://hamr:8080", url))
    finally:
        steps.stop()
    assert yaml.safe_load(output)["data"]["attributes"]["hamr_status"] == PASSIVE
