"""Starting the servers under test, each pinned to core 0, and reading their memory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import httpx

SERVER_CORE = "0"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Every request is still counted against its bucket; the limits are only too high to refuse the
# load generator, whose few thousand orgs would otherwise exhaust the default per-org budgets.
UNREACHABLE_LIMITS = ("hamr_get=1000000000/60", "hamr_post=1000000000/60")


def hamr_command(database_url: str, extra: Sequence[str] = ()) -> list[str]:
    """hamr as deployed: metrics on, one JSON access line per request (to a file). `extra`
    arguments go after the others, e.g. ("--wire", "live")."""
    limits = [arg for limit in UNREACHABLE_LIMITS for arg in ("--rate-limit", limit)]
    return [sys.executable, "-m", "hamr", "serve", "--database", database_url, *limits, *extra]


def ceiling_command(bench: Path, app: str = "app") -> list[str]:
    """A reference in bench/ceiling.py: `app` (bare Starlette) or `bare` (a bare ASGI callable)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        f"ceiling:{app}",
        "--app-dir",
        str(bench),
        "--no-access-log",
        "--log-level",
        "warning",
    ]


def prism_command(bench: Path, spec: Path) -> list[str]:
    return [str(bench / "node_modules" / ".bin" / "prism"), "mock", str(spec), "-h", "127.0.0.1"]


class Server:
    """A server process on a free port; the port flag is appended as each program spells it."""

    def __init__(self, command: list[str]):
        self.port = free_port()
        flag = "-p" if "prism" in command[0] else "--port"
        self.command = ["taskset", "-c", SERVER_CORE, *command, flag, str(self.port)]
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        # A file, not a pipe: a server logging every request would fill a pipe and stall.
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 60
        # One client for the polls: each client httpx makes loads the CA bundle (~50 ms of CPU).
        with httpx.Client(timeout=1) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    self.log.seek(0)
                    error = self.log.read().decode(errors="replace")
                    raise RuntimeError(f"{' '.join(self.command)} exited:\n{error}")
                try:
                    client.get(f"{self.url}/openapi.json")
                    return self
                except httpx.TransportError:
                    time.sleep(0.1)
        raise RuntimeError(f"{' '.join(self.command)} did not answer within 60 s")

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()

    def cpu_seconds(self) -> float:
        """CPU time the server process has used, user and system, all its threads: what a
        request costs the server, much steadier than its rate on a shared machine."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        """Resident memory of the server process (uvicorn serves in-process: one PID)."""
        assert self.process is not None
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")
