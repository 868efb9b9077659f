"""docs/ci.md's recipes, run as far as this machine allows: the GitHub Actions job that starts
hamr as a background step runs step by step as a runner would (its `env`, `$RUNNER_TEMP`,
`$GITHUB_ENV` carried to the next steps), with `actions/setup-python` a fresh virtual
environment and the git URL this repository; the wheel's commands run in another fresh
environment. The recipes that run hamr's image as a service are run with podman by
tests/ops/test_container.py, with the helpers here."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import venv
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from hamr.domain.model import HamrStatus
from tests import docs
from tests.conftest import ROOT, free_port

DOCUMENTED_GIT_URL = "git+https://github.com/your-org/hamr@v0.2.0"
DOCUMENTED_IMAGE = "ghcr.io/your-org/hamr:0.2"
INSTALL_TIMEOUT = 600
PASSIVE = int(HamrStatus.PASSIVE)


def workflow(text: str) -> dict[str, Any]:
    """A documented workflow, parsed, with the shape GitHub Actions needs."""
    parsed = yaml.safe_load(text)
    # YAML 1.1 (PyYAML) reads the key `on` as true, as GitHub reads it as "on".
    assert set(parsed) == {"name", True, "jobs"}, parsed
    for job in parsed["jobs"].values():
        assert job["runs-on"] == "ubuntu-latest"
        assert all(("run" in step) != ("uses" in step) for step in job["steps"]), job["steps"]
    return parsed


class Steps:
    """Shell steps run as a CI runner runs them: bash with -e and pipefail, in the job's
    directory, each in a process group of its own so that what a step leaves running in the
    background (as a runner's job does until it ends) is ended by `stop`."""

    def __init__(self, workdir: Path, env: Mapping[str, str]):
        self.workdir = workdir
        self.env = dict(env)
        self.groups: list[int] = []
        self.ran: list[str] = []

    def sh(self, script: str, env: Mapping[str, str], timeout: float = 120) -> str:
        """Run one step; its output, or a failure that shows it."""
        number = len(self.ran)
        out, err = self.workdir / f".step-{number}.out", self.workdir / f".step-{number}.err"
        # Files, not pipes: a process a step leaves in the background keeps what it inherited.
        with out.open("wb") as stdout, err.open("wb") as stderr:
            process = subprocess.Popen(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                cwd=self.workdir,
                env={**self.env, **env},
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,
            )
            self.groups.append(process.pid)
            code = process.wait(timeout=timeout)
        self.ran.append(script)
        output = out.read_text(errors="replace")
        assert code == 0, f"step exited {code}:\n{script}\n{output}\n{err.read_text()}"
        return output

    def github(
        self,
        job: Mapping[str, Any],
        *,
        localize: Callable[[str], str],
        uses: Callable[[Mapping[str, Any]], None],
    ) -> list[str]:
        """A GitHub Actions job's steps: `uses` steps by `uses`, `run` steps by bash with the
        job's and step's `env`, RUNNER_TEMP, and GITHUB_ENV's lines in the next steps' env;
        steps under `if: failure()` only after one failed (none does here). `localize` puts
        this machine's addresses in the documented ones."""
        temp = self.workdir / "_temp"
        temp.mkdir(exist_ok=True)
        github_env = temp / "github_env"
        github_env.touch()
        outputs = []
        for step in job["steps"]:
            assert step.get("if") in (None, "failure()"), step
            if step.get("if") == "failure()":
                continue
            if "uses" in step:
                uses(step)
                continue
            exported = dict(
                line.split("=", 1) for line in github_env.read_text().splitlines() if line
            )
            env = {
                **{name: localize(str(value)) for name, value in job.get("env", {}).items()},
                **{name: localize(str(value)) for name, value in step.get("env", {}).items()},
                "RUNNER_TEMP": str(temp),
                "GITHUB_ENV": str(github_env),
                "CI": "true",
                **exported,
            }
            outputs.append(self.sh(localize(step["run"]), env, timeout=INSTALL_TIMEOUT))
        return outputs

    def gitlab(self, job: Mapping[str, Any], *, localize: Callable[[str], str]) -> str:
        """A GitLab CI job's script, its lines in one shell as GitLab runs them."""
        env = {name: localize(str(value)) for name, value in job.get("variables", {}).items()}
        return self.sh("\n".join(localize(line) for line in job["script"]), env)

    def stop(self) -> None:
        """End what the steps left running (a step's process group outlives its shell)."""
        for signum in (signal.SIGTERM, signal.SIGKILL):
            alive = []
            for group in self.groups:
                try:
                    os.killpg(group, signum)
                    alive.append(group)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + 10
            while alive and time.monotonic() < deadline:
                alive = [group for group in alive if _group_alive(group)]
                time.sleep(0.05)
            if not alive:
                return


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def fresh_environment(where: Path) -> Path:
    """A new virtual environment (with pip), as actions/setup-python gives a job; its bin."""
    venv.EnvBuilder(with_pip=True).create(where)
    return where / "bin"


def first_on_path(bin_dir: Path) -> dict[str, str]:
    """This environment with `bin_dir` first on PATH, and pip told not to compile what it
    installs to bytecode (a third of a fresh install's time here; Python compiles on use)."""
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    return {**os.environ, "PATH": path, "PIP_NO_COMPILE": "1"}


@pytest.fixture(scope="module")
def shell() -> None:
    docs.shell_tools("bash", "curl", "jq", "git")


@pytest.fixture
def steps(tmp_path: Path) -> Iterator[Steps]:
    ran = Steps(tmp_path / "job", os.environ)
    ran.workdir.mkdir()
    try:
        yield ran
    finally:
        ran.stop()


@dataclass
class WheelBuild:
    """docs/ci.md's wheel commands running in a clone, with a fresh environment first on
    PATH."""

    clone: Path
    bin_dir: Path
    process: subprocess.Popen[bytes]
    log: Path


@pytest.fixture(scope="module")
def wheel(shell: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WheelBuild]:
    """The wheel's commands started in the background by the first test that asks, so that
    their fresh install (a minute here, most of it pip) runs while the background job's does."""
    where = tmp_path_factory.mktemp("wheel")
    clone = where / "hamr"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    bin_dir = fresh_environment(where / "python")
    log = where / "wheel.log"
    commands = docs.block("docs/ci.md", "Installing hamr without a clone", 1)
    with log.open("wb") as output:
        process = subprocess.Popen(
            ["bash", "-euo", "pipefail", "-c", commands],
            cwd=clone,
            env=first_on_path(bin_dir),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield WheelBuild(clone, bin_dir, process, log)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_install_line_is_the_background_jobs() -> None:
    """The documented `pip install` from a git URL is the one the background job runs, so
    running that job (below) runs it."""
    line = docs.block("docs/ci.md", "Installing hamr without a clone", 0).strip()
    assert shlex.split(line) == ["pip", "install", DOCUMENTED_GIT_URL]
    job = workflow(docs.block("docs/ci.md", "GitHub Actions: a background step", 0))["jobs"][
        "dr-tests"
    ]
    assert {"run": line} in job["steps"]


def test_the_background_step_job_runs_hamr_from_a_git_url(
    shell: None, steps: Steps, tmp_path: Path, wheel: WheelBuild
) -> None:
    # `wheel` is asked for here only so that its install runs beside this job's.
    job = workflow(docs.block("docs/ci.md", "GitHub Actions: a background step", 0))["jobs"][
        "dr-tests"
    ]
    port = free_port()

    def localize(text: str) -> str:
        return (
            text.replace(DOCUMENTED_GIT_URL, f"git+file://{ROOT}")
            .replace("127.0.0.1:8080", f"127.0.0.1:{port}")
            .replace("--port 8080", f"--port {port}")
        )

    def uses(step: Mapping[str, Any]) -> None:
        action = step["uses"].split("@")[0]
        assert action in ("actions/checkout", "actions/setup-python"), step
        if action == "actions/setup-python":
            # The job asks for hamr's oldest Python; this one is at least that.
            assert str(step["with"]["python-version"]) == "3.11"
            assert sys.version_info >= (3, 11)
            steps.env = first_on_path(fresh_environment(tmp_path / "python"))

    outputs = steps.github(job, localize=localize, uses=uses)
    assert (tmp_path / "python" / "bin" / "hamr").exists(), "the job did not install hamr"
    # The last step read the pair with the keys the reset step put in GITHUB_ENV.
    read = json.loads(outputs[-1])
    assert read["data"]["attributes"]["hamr_status"] == PASSIVE, read  # the demo pair at rest
    exported = (tmp_path / "job" / "_temp" / "github_env").read_text()
    assert {line.split("=")[0] for line in exported.splitlines()} == {"DD_API_KEY", "DD_APP_KEY"}
    # hamr wrote its log where the job's failure step would show it.
    log, deadline = tmp_path / "job" / "_temp" / "hamr.log", time.monotonic() + 10
    while '"path":"/api/v2/hamr"' not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)  # a request's log line is written after its answer
    assert '"path":"/api/v2/hamr"' in log.read_text()


def test_a_wheel_built_in_a_clone_installs_hamr_elsewhere(wheel: WheelBuild) -> None:
    code = wheel.process.wait(timeout=INSTALL_TIMEOUT)
    assert code == 0, wheel.log.read_text(errors="replace")
    assert [made.name.startswith("hamr-") for made in (wheel.clone / "dist").iterdir()] == [True]
    bin_dir = wheel.bin_dir
    version = subprocess.run(
        [str(bin_dir / "hamr"), "--version"], capture_output=True, text=True, check=True
    )
    assert "hamr" in version.stdout
    plugin = subprocess.run(
        [
            str(bin_dir / "python"),
            "-c",
            "from importlib.metadata import entry_points; import hamr.testing; "
            "print([e.value for e in entry_points(group='pytest11')])",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "hamr.pytest_plugin" in plugin.stdout
