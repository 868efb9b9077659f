"""What the round-by-round benchmarks (bench/wire.py, bench/policy.py, bench/emulator.py) share:
their plan, their command line, the ratios they take round by round, and how each writes its
own section of docs/benchmarks.md between its markers."""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from loadgen import Outcome, install_wrk
from run import DOCS, Results


@dataclass(frozen=True)
class Plan:
    orgs: int
    sample_size: int
    rounds: int
    seconds: int
    warmup_seconds: int  # 0: one pass over the sample instead (Load.warmup), a smoke plan's
    connections: int
    # The in-process timings (bench/*_work.py): calls per run and runs, None for the module's
    # NUMBER and REPEATS; a smoke plan's few calls prove the timing works, not what it finds.
    work_number: int | None = None
    work_repeats: int | None = None


def paired(results: Results, a: str, b: str) -> list[float]:
    """a / b in each round: the two ran minutes apart at most, on the same machine state."""
    return [x / y for x, y in zip(results.samples[a], results.samples[b], strict=True) if y]


def against(results: Results, a: str, b: str) -> tuple[float | None, str]:
    """a over b, round by round: the median, and the range in words."""
    rounds = sorted(paired(results, a, b))
    if not rounds:
        return None, ""
    spread = f" (round by round {rounds[0]:.2f}–{rounds[-1]:.2f})" if len(rounds) > 1 else ""
    return statistics.median(rounds), spread


def judged(value: float | None, rounds: list[float], side: Callable[[float], int]) -> str:
    """The verdict on the median of the rounds (`side` is 0 where the target holds, -1 or 1
    beyond it), and whether the rounds agree: rounds on both sides of a line are noise."""
    if value is None:
        return "—"
    verdict = "met" if side(value) == 0 else "**missed**"
    if len(rounds) > 1 and len({side(x) for x in rounds}) > 1:
        verdict += " (not resolved)"
    return verdict


def fmt(value: float | None, digits: int = 2, suffix: str = "") -> str:
    return "—" if value is None else f"{value:,.{digits}f}{suffix}"


def checked(out: Outcome, what: str) -> Outcome:
    """A benchmark of errors would measure nothing: every lane must answer 2xx."""
    if out.errors:
        raise RuntimeError(f"{what}: {out.errors} errors (non-2xx or socket) in its warm-up")
    return out


@dataclass(frozen=True)
class Section:
    """A script's block of docs/benchmarks.md, between `<!-- name: start -->` and `<!-- name:
    end -->`; the first time, it goes after the first of `after`'s blocks the file has (and the
    hand-written notes that follow that block, up to the next `## ` heading), else at the end."""

    name: str
    after: tuple[str, ...]

    def write(self, path: Path, text: str) -> None:
        start, end = f"<!-- {self.name}: start -->", f"<!-- {self.name}: end -->"
        block = f"{start}\n{text.rstrip()}\n{end}"
        existing = path.read_text() if path.exists() else ""
        if start in existing and end in existing:
            head, _, rest = existing.partition(start)
            _, _, tail = rest.partition(end)
            path.write_text(head + block + tail)
            return
        for marker in (f"<!-- {name}: end -->" for name in self.after):
            if marker in existing:
                head, _, tail = existing.partition(marker)
                heading = tail.find("\n## ")
                if heading < 0:
                    notes, rest = tail.rstrip("\n"), ""
                else:
                    notes, rest = tail[:heading].rstrip("\n"), tail[heading + 1 :]
                path.write_text(
                    f"{head}{marker}{notes}\n\n{block}\n" + (f"\n{rest}" if rest else "")
                )
                return
        path.write_text(existing.rstrip("\n") + ("\n\n" if existing else "") + block + "\n")


def main(
    script: str,
    description: str,
    plans: tuple[Plan, Plan, Plan],
    section: Section,
    report: Callable[[Plan, Path, str], str],
) -> None:
    """`python bench/<script>.py [--quick | --smoke] [--rounds N] [--output FILE]`: `report`
    measures in a scratch directory and renders the section, which is printed, and written to
    `--output` (a full run: to docs/benchmarks.md). `plans` is the full plan, the quick one and
    the smoke one (the test suite's: it proves the script runs end to end, in seconds)."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="few orgs, one short round")
    mode.add_argument(
        "--smoke",
        action="store_true",
        help="the smallest run (one-pass warm-ups, few in-process timings): it only proves "
        "the script works (the test suite's run)",
    )
    parser.add_argument("--rounds", type=int, help="override the plan's number of rounds")
    parser.add_argument(
        "--output", type=Path, help=f"write the section here (default: {DOCS} for a full run)"
    )
    args = parser.parse_args()
    full, quick, smoke = plans
    plan = smoke if args.smoke else quick if args.quick else full
    flag = " --quick" if args.quick else " --smoke" if args.smoke else ""
    command = f"python bench/{script}.py{flag}"
    if args.rounds:
        if args.rounds != plan.rounds:
            command += f" --rounds {args.rounds}"
        plan = replace(plan, rounds=args.rounds)
    install_wrk()
    with tempfile.TemporaryDirectory(prefix=f"hamr-{script}-") as workdir:
        text = report(plan, Path(workdir), command)
    print(text)
    output = args.output or (None if flag else DOCS)
    if output:
        section.write(output, text)
        print(f"written to {output}")
