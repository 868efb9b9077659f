"""The documentation's fenced code blocks, taken by file and heading, and run as printed.

A test takes a block with `block("docs/emulator.md", "Fault rules", 0)` (the first block under
that heading, whatever its level), all of a heading's blocks with `blocks_under(...)`, or runs
a shell block with `run_block(...)`. tests/test_docs.py reads the tests for these calls (so
their arguments must be literal) and fails on any block of README.md or docs/*.md that no test
takes, unless its fence says it is no command: ```text (an output sample, a drawing) or
```mermaid (a diagram)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests import apt

ROOT = Path(__file__).resolve().parents[1]
# The fence info strings of blocks that are not commands, and need no test to run them.
NOT_COMMANDS = frozenset({"text", "mermaid"})
# The address the documentation's commands call; a test puts its server's in its place.
DOCUMENTED_URL = "http://127.0.0.1:8080"

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced code block of a documentation file."""

    path: str  # relative to the repository: "README.md", "docs/api.md"
    heading: str  # the heading it is under, without its #s ("" before the first)
    index: int  # its place among the blocks under that heading, from 0
    info: str  # the fence's info string: "sh", "python", "text", ...
    text: str  # its content, each line ending with a newline
    line: int  # the line of its opening fence, from 1


def documentation() -> list[str]:
    """README.md and every guide under docs/, as paths relative to the repository."""
    return ["README.md", *(f"docs/{p.name}" for p in sorted((ROOT / "docs").glob("*.md")))]


@dataclass(frozen=True, slots=True)
class Page:
    """A documentation file taken apart: its fenced blocks, and its other lines (prose,
    headings) with their headings."""

    blocks: tuple[Block, ...]
    prose: tuple[str, ...]
    headings: tuple[str, ...]


@cache
def _parsed(path: str, _mtime: float) -> Page:
    found: list[Block] = []
    prose: list[str] = []
    headings: list[str] = []
    heading = ""
    counts: dict[str, int] = {}
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines(keepends=True)
    at = 0
    while at < len(lines):
        opening = _FENCE.match(lines[at])
        if opening is not None and opening.group(1)[0] == "`" and "`" in opening.group(2):
            opening = None  # a backtick fence's info has no backtick: that is inline code
        if opening is None:
            prose.append(lines[at])
            titled = _HEADING.match(lines[at])
            if titled is not None:
                heading = titled.group(2)
                headings.append(heading)
            at += 1
            continue
        fence, body, start = opening.group(1), [], at
        at += 1
        while at < len(lines) and not re.match(
            rf"^{re.escape(fence[0])}{{{len(fence)},}}\s*$", lines[at]
        ):
            body.append(lines[at])
            at += 1
        at += 1  # the closing fence
        index = counts.get(heading, 0)
        counts[heading] = index + 1
        info = (opening.group(2).split() or [""])[0]
        found.append(Block(path, heading, index, info, "".join(body), start + 1))
    return Page(tuple(found), tuple(prose), tuple(headings))


def page(path: str) -> Page:
    """`path` (README.md, docs/api.md) taken apart."""
    return _parsed(path, (ROOT / path).stat().st_mtime)


def all_blocks(path: str) -> list[Block]:
    """Every fenced block of `path` (README.md, docs/api.md), in order."""
    return list(page(path).blocks)


def blocks_under(path: str, heading: str) -> list[str]:
    """The text of every fenced block under `heading` in `path`, in order."""
    found = [b.text for b in all_blocks(path) if b.heading == heading]
    assert found, f"{path} has no code block under a heading {heading!r}"
    return found


def block(path: str, heading: str, index: int = 0) -> str:
    """The text of the `index`th fenced block (from 0) under `heading` in `path`."""
    found = blocks_under(path, heading)
    assert index < len(found), f"{path} has {len(found)} code blocks under {heading!r}"
    return found[index]


def run_sh(
    script: str,
    *,
    url: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    text: bool = True,
    timeout: float = 60,
) -> subprocess.CompletedProcess[Any]:
    """A shell block run as printed, by bash with -euo pipefail, with `url` for the
    documentation's http://127.0.0.1:8080 and `env` added to this process's environment."""
    if url is not None:
        script = script.replace(DOCUMENTED_URL, url)
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        capture_output=True,
        text=text,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def run_block(
    path: str,
    heading: str,
    index: int = 0,
    *,
    url: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    text: bool = True,
) -> subprocess.CompletedProcess[Any]:
    """`block(path, heading, index)` run by `run_sh`."""
    return run_sh(block(path, heading, index), url=url, env=env, cwd=cwd, text=text)


def shell_tools(*tools: str) -> None:
    """The programs the documented commands use (curl, bash, jq...), installed with apt when
    missing; a failure when they cannot be."""
    for tool in tools:
        if shutil.which(tool) is None:
            problem = apt.install(tool)
            if shutil.which(tool) is None:
                pytest.fail(f"the documented commands need {tool}: {problem}")


def documents(output: str) -> list[Any]:
    """The JSON documents a block printed one after another (curl adds no newlines)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    output = output.strip()
    while at < len(output) and output[at] in "{[":
        document, at = decoder.raw_decode(output, at)
        found.append(document)
        while at < len(output) and output[at].isspace():
            at += 1
    return found
