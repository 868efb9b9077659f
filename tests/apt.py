"""Debian packages the suite installs for itself when they are missing and it can (root with
apt-get), so that a fresh machine runs every test instead of skipping some."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

# Installs wait for each other (tests run in parallel, or beside another apt-get): one at a
# time among the suite's, and for dpkg's own lock against anyone else's.
_LOCK = Path("/var/lock/hamr-tests-apt.lock")
_WAIT_FOR_DPKG = ["-o", "DPkg::Lock::Timeout=600"]


def install(package: str) -> str | None:
    """Install a Debian package; None on success, else why it could not be."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"{package} is not installed (apt-get install {package})"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with _LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if shutil.which(package) is not None:  # another test installed it meanwhile
            return None
        subprocess.run(
            ["apt-get", *_WAIT_FOR_DPKG, "update", "-qq"], capture_output=True, env=env, check=False
        )
        installed = subprocess.run(
            ["apt-get", *_WAIT_FOR_DPKG, "install", "-y", "-qq", package],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
            check=False,
        )
    if installed.returncode != 0:
        last = (installed.stderr or installed.stdout).strip().splitlines()[-1:]
        return f"apt-get install {package} failed: {' '.join(last)}"
    return None
