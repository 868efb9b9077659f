"""The README says the benchmark harness needs nothing Python beyond what `pip install .`
installs: every package bench/ imports is hamr itself, the standard library, one of bench's
own modules, or a runtime dependency in pyproject.toml (an import of a test-only package,
httpx before it was a runtime one, stopped `python bench/run.py --quick` at its first line)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib

from tests.conftest import ROOT

# Import names of the runtime distributions whose module is named otherwise.
MODULE_OF = {"pyyaml": "yaml", "prometheus-client": "prometheus_client", "psycopg": "psycopg"}


def test_the_harness_imports_only_runtime_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {
        MODULE_OF.get(name, name.replace("-", "_"))
        for name in (re.split(r"[\[<>=!~ ]", spec)[0].lower() for spec in project["dependencies"])
    }
    own = {path.stem for path in (ROOT / "bench").glob("*.py")}
    imported: set[str] = set()
    optional: set[str] = set()  # imported under `except ImportError`, with a fallback
    for path in (ROOT / "bench").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(
                isinstance(h.type, ast.Name) and h.type.id == "ImportError" for h in node.handlers
            ):
                optional |= {name for part in node.body for name in _imports(part)}
            imported |= (
                set(_imports(node)) if isinstance(node, ast.Import | ast.ImportFrom) else set()
            )
    builtin = set(sys.stdlib_module_names) | own | {"hamr", "__future__"}
    outside = imported - optional - builtin - runtime
    assert outside == set(), f"bench/ imports packages `pip install .` does not: {outside}"
    assert {"httpx", "starlette", "sqlalchemy"} <= imported & runtime


def _imports(node: ast.AST) -> list[str]:
    """The top-level packages an import statement names (relative imports are bench's own)."""
    if isinstance(node, ast.Import):
        return [alias.name.split(".")[0] for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module.split(".")[0]]
    return []
