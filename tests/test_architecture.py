"""The layout docs/architecture.md describes, kept true: the import direction is import-linter's
contract (pyproject.toml), the folders are the ones drawn, modules stay small, and the domain
speaks no HTTP."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "hamr"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
MAX_LOOSE_MODULES = 8
MAX_MODULE_LINES = 400


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_imports_flow_one_way() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from importlinter.cli import lint_imports_command; lint_imports_command()",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"Contracts: \d+ kept, 0 broken", done.stdout), done.stdout


def test_few_loose_modules_beside_the_packages() -> None:
    loose = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(loose) <= MAX_LOOSE_MODULES, loose


def test_no_module_is_past_the_size_the_house_allows() -> None:
    sizes = {
        str(path.relative_to(PACKAGE)): len(path.read_text().splitlines()) for path in modules()
    }
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_the_domain_speaks_no_http() -> None:
    """No status codes, titles or header names in domain/: api/errors.py maps domain errors."""
    http = re.compile(
        r"\b[45]\d\d\b|\bstatus_code\b|^\s*(status|title)\s*[:=]|\bheader\b|/api/v\d|"
        r"If-(None-)?Match|Idempotency-Key|Retry-After",
        re.MULTILINE,
    )
    found = [
        f"{path.relative_to(PACKAGE)}: {match.group(0)!r}"
        for path in sorted((PACKAGE / "domain").rglob("*.py"))
        for match in http.finditer(path.read_text())
    ]
    assert found == []


def test_the_architecture_guide_draws_every_package_and_names_real_files() -> None:
    guide = ARCHITECTURE.read_text()
    packages = sorted(
        str(init.parent.relative_to(PACKAGE)) + "/"
        for init in PACKAGE.rglob("__init__.py")
        if init.parent != PACKAGE and "migrations" not in init.parts
    )
    loose = sorted(path.name for path in PACKAGE.glob("*.py") if path.name != "__init__.py")
    missing = [name for name in packages + loose if name not in guide]
    assert missing == [], "docs/architecture.md does not show these"
    top = {path.name for path in PACKAGE.iterdir() if path.is_dir()}
    named = {
        name
        for name in re.findall(r"`((?:[a-z_]+/)*[a-z_]+\.py)`", guide)
        if "/" not in name or name.split("/")[0] in top
    }
    assert named, "the guide names the files a request goes through"
    gone = sorted(name for name in named if not (PACKAGE / name).exists())
    assert gone == [], "docs/architecture.md names files that do not exist"
