"""Debian packages the suite installs for itself when they are missing and it can (root with
apt-get), so that a fresh machine runs every test instead of skipping some."""

from __future__ import annotations

import os
import shutil
import subprocess


def install(package: str) -> str | None:
    """Install a Debian package; None on success, else why it could not be."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"{package} is not installed (apt-get install {package})"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env, check=False)
    installed = subprocess.run(
        ["apt-get", "install", "-y", "-qq", package],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    if installed.returncode != 0:
        last = (installed.stderr or installed.stdout).strip().splitlines()[-1:]
        return f"apt-get install {package} failed: {' '.join(last)}"
    return None
