"""A throwaway Redis server for the suite: `redis-server` in the foreground as a subprocess, on
a free port, with no persistence and a directory of its own. Installed from Debian's package
when it is missing and we can (root with apt-get), as bench/loadgen.py does for wrk."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests import apt

REQUIRE_ENV = "HAMR_REQUIRE_REDIS"
PACKAGE = "redis-server"


def required() -> bool:
    return os.environ.get(REQUIRE_ENV) == "1"


def binary() -> Path | None:
    found = shutil.which("redis-server")
    return Path(found) if found else None


def binary_or_skip() -> Path:
    """redis-server, installed if need be; a skip with the reason, or a failure when CI
    requires it (HAMR_REQUIRE_REDIS=1)."""
    found = binary()
    if found is None:
        problem = apt.install(PACKAGE)
        found = binary()
        if found is None:
            reason = problem or "apt-get installed redis-server but it is not on PATH"
            if required():
                pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
            pytest.skip(reason)
    return found


class RedisServer:
    def __init__(self, executable: Path, port: int):
        self.executable = executable
        self.port = port
        self.base = Path(tempfile.mkdtemp(prefix="hamr-redis-"))
        self.log = self.base / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        """One PING over a plain socket (redis-py would retry with backoff while it starts)."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def start(self, timeout: float = 30) -> RedisServer:
        """Start in the foreground and wait until it answers PING."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(self.executable),
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.base),
                    "--daemonize",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited early:\n{self.log_text()}")
            if self.ping():
                return self
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not answer within {timeout} s:\n{self.log_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)  # in case it was paused
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def pause(self) -> None:
        """Stop answering without going away (SIGSTOP), as in a network partition."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
