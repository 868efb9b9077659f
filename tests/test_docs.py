"""Every fenced code block of README.md and docs/*.md is run by a test, or says in its fence
that it is no command (```text: an output sample, a drawing; ```mermaid: a diagram).

A test runs a block by taking it through tests/docs.py, `block(file, heading, index)`,
`blocks_under(file, heading)` or `run_block(file, heading, index, ...)`, with literal
arguments: these tests read every test module for those calls, so a block no test takes, a
call naming a block that is not there, and a call this reading cannot follow all fail here,
whether or not the test that makes the call runs (one that needs Node.js may skip). Relative
links and images in the documentation must lead to a file, and to a heading when they name
one."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests import docs

TESTS = Path(__file__).resolve().parent
TAKERS = frozenset({"block", "blocks_under", "run_block"})
README_LIMIT = 200


@dataclass(frozen=True)
class Taken:
    """A test's call that takes documented blocks: one by index, or all under a heading."""

    path: str
    heading: str
    index: int | None  # None: every block under the heading
    where: str  # the test module and line of the call

    def takes(self, block: docs.Block) -> bool:
        return (
            block.path == self.path
            and block.heading == self.heading
            and self.index in (None, block.index)
        )


def _imports_docs(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and (
            node.module == "tests.docs"
            or (node.module == "tests" and any(alias.name == "docs" for alias in node.names))
        )
        for node in ast.walk(tree)
    )


def _calls() -> Iterator[tuple[ast.Call, str, str]]:
    """Every call of a taker in the test modules: the call, its name and where it is."""
    for module in sorted(TESTS.rglob("*.py")):
        if module.name == "docs.py" and module.parent == TESTS:
            continue
        tree = ast.parse(module.read_text(encoding="utf-8"))
        if not _imports_docs(tree):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = (
                node.func.attr
                if isinstance(node.func, ast.Attribute)
                else node.func.id
                if isinstance(node.func, ast.Name)
                else None
            )
            if name in TAKERS:
                yield node, name, f"{module.relative_to(TESTS.parent)}:{node.lineno}"


def taken() -> tuple[list[Taken], list[str]]:
    """What the tests take, and the calls that cannot be read (arguments not literal)."""
    found, unreadable = [], []
    for call, name, where in _calls():
        arguments = call.args[:3] if name != "blocks_under" else call.args[:2]
        index_keyword = [k.value for k in call.keywords if k.arg == "index"]
        values = [*arguments, *index_keyword]
        if len(call.args) < 2 or not all(isinstance(v, ast.Constant) for v in values):
            unreadable.append(where)
            continue
        path, heading = (a.value for a in arguments[:2])  # type: ignore[attr-defined]
        if name == "blocks_under":
            index = None
        elif len(values) > 2:
            index = values[2].value  # type: ignore[attr-defined]
        else:
            index = 0
        found.append(Taken(path, heading, index, where))
    return found, unreadable


def every_block() -> list[docs.Block]:
    return [block for path in docs.documentation() for block in docs.all_blocks(path)]


def test_every_call_that_takes_a_block_names_it_literally() -> None:
    _taken, unreadable = taken()
    assert unreadable == [], (
        "give block(), blocks_under() and run_block() the file, heading and index as "
        f"literals, so that this test can see which blocks are run: {unreadable}"
    )


def test_every_command_in_the_documentation_is_run_by_a_test() -> None:
    takers, _unreadable = taken()
    untested = [
        f"{b.path}:{b.line} ```{b.info} (block {b.index} under {b.heading!r})"
        for b in every_block()
        if b.info not in docs.NOT_COMMANDS and not any(t.takes(b) for t in takers)
    ]
    assert untested == [], (
        "these blocks are run by no test: take each with tests/docs.py's block() in the test "
        "that runs it, or, if it is no command, fence it as ```text (or ```mermaid):\n"
        + "\n".join(untested)
    )


def test_every_block_a_test_takes_is_there() -> None:
    takers, _unreadable = taken()
    blocks = every_block()
    missing = [
        f"{t.where}: {t.path}, {t.heading!r}, {'all' if t.index is None else t.index}"
        for t in takers
        if not any(t.takes(b) for b in blocks)
    ]
    assert missing == [], f"tests take blocks the documentation does not have: {missing}"


def test_every_block_says_what_it_is() -> None:
    """A fence with no info string could be a command or a sample: it must say which."""
    bare = [f"{b.path}:{b.line}" for b in every_block() if not b.info]
    assert bare == [], f"give these fences an info string (sh, python, text...): {bare}"


def test_the_headings_a_block_is_found_by_are_unique() -> None:
    for path in docs.documentation():
        headings = docs.page(path).headings
        with_blocks = {b.heading for b in docs.all_blocks(path)}
        repeated = {h for h in headings if headings.count(h) > 1 and h in with_blocks}
        assert repeated == set(), f"{path}: blocks under repeated headings {repeated}"


def test_the_readme_is_read_in_two_minutes() -> None:
    lines = (docs.ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines <= README_LIMIT, f"README.md has {lines} lines; guides go under docs/"


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_relative_link_and_image_leads_somewhere() -> None:
    broken = []
    for path in docs.documentation():
        source = docs.ROOT / path
        prose = re.sub(r"`[^`\n]*`", "", "".join(docs.page(path).prose))  # code spans: no links
        for target in re.findall(r"\]\(([^)\s]+)\)", prose):
            if re.match(r"^[a-z]+:", target):
                continue  # http:, https:, mailto:
            file_part, _hash, anchor = target.partition("#")
            linked = (source.parent / file_part).resolve() if file_part else source
            if not linked.exists():
                broken.append(f"{path}: {target} (no {linked.relative_to(docs.ROOT)})")
                continue
            relative = str(linked.relative_to(docs.ROOT))
            if anchor and linked.suffix == ".md":
                anchors = {slug(h) for h in docs.page(relative).headings}
                if anchor not in anchors:
                    broken.append(f"{path}: {target} (no heading #{anchor})")
    assert broken == [], "links that lead nowhere:\n" + "\n".join(broken)
