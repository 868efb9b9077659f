"""`hamr fault add|list|clear`: the fault rules of a running emulator (`hamr serve --emulator`),
through its admin API, so a drill can break and mend the API without writing HTTP by hand."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hamr.cli.support import OperatorError, emit
from hamr.emulator.faults.file import read_fault_file

if TYPE_CHECKING:
    from hamr.emulator.client import EmulatorAdmin

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_URL = "http://127.0.0.1:8080"
COLUMNS = ("ID", "MATCHES", "EFFECT", "PROBABILITY", "TIMES", "FIRED")


def emulator_options(command: F) -> F:
    """Where the emulator is and its admin token, which every `hamr fault` verb needs."""
    command = click.option(
        "--admin-token",
        envvar="HAMR_ADMIN_TOKEN",
        required=True,
        metavar="TOKEN",
        show_envvar=True,
        help="The admin token `hamr serve --emulator` printed at start (or was given).",
    )(command)
    return click.option(
        "--url",
        envvar="HAMR_URL",
        metavar="URL",
        default=DEFAULT_URL,
        show_default=True,
        show_envvar=True,
        help="The running emulator.",
    )(command)


@click.group()
def fault() -> None:
    """Add, list and clear a running emulator's fault rules."""


@fault.command("add")
@click.argument("rule", required=False)
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False),
    help="A YAML or JSON file of rules (a list, or one rule), as `hamr serve --faults` reads.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the rule(s) as the server has them.")
@emulator_options
def fault_add(
    rule: str | None, path: str | None, as_json: bool, url: str, admin_token: str
) -> None:
    """Put RULE (a JSON object such as '{"status": 503}') in force, or every rule in --file
    (all or none), after the rules already in force."""
    if (rule is None) == (path is None):
        raise click.UsageError("Give one RULE (a JSON object) or --file, not both nor neither.")
    sent = _read_rule(rule) if rule is not None else read_fault_file(str(path))
    with _fault_admin(url, admin_token) as admin:
        added = admin.add(sent)
    text = "\n".join(f"added {r['id']}: {_summary(r)}" for r in added) or "added no rules"
    emit(as_json, added if isinstance(sent, list) else added[0], text)


@fault.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@emulator_options
def fault_list(as_json: bool, url: str, admin_token: str) -> None:
    """The rules in force, in the order they are tried, with how often each fired."""
    with _fault_admin(url, admin_token) as admin:
        rules = admin.rules()
    emit(as_json, rules, _table(rules) if rules else "no fault rules in force")


@fault.command("clear")
@click.argument("rule_id", metavar="[ID]", required=False)
@emulator_options
def fault_clear(rule_id: str | None, url: str, admin_token: str) -> None:
    """Remove the rule ID, or every rule."""
    with _fault_admin(url, admin_token) as admin:
        if rule_id is not None:
            admin.remove(rule_id)
            click.echo(f"cleared {rule_id}")
            return
        cleared = admin.clear()
    click.echo(f"cleared {cleared} fault rule{'' if cleared == 1 else 's'}")


def _summary(rule: dict[str, Any]) -> str:
    """What a rule matches and does, on one line: `GET /api/v2/hamr* -> 503, probability 0.5`."""
    limits = []
    if rule["probability"] != 1:
        limits.append(f"probability {_number(rule['probability'])}")
    if "times" in rule:
        limits.append(f"{rule['times']} time{'' if rule['times'] == 1 else 's'}")
    return ", ".join([f"{_matches(rule)} -> {_effect(rule)}", *limits])


def _read_rule(rule: str) -> object:
    try:
        return json.loads(rule)
    except ValueError as error:
        raise OperatorError(
            f"RULE is not JSON ({error}); quote it: '{{\"status\": 503}}'"
        ) from None


def _table(rules: list[dict[str, Any]]) -> str:
    rows = [COLUMNS] + [
        (
            str(r["id"]),
            _matches(r),
            _effect(r),
            _number(r["probability"]),
            str(r.get("times", "-")),
            str(r["fired"]),
        )
        for r in rules
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _matches(rule: dict[str, Any]) -> str:
    named = [
        *(str(rule[name]) for name in ("method", "path") if name in rule),
        *(f"{name} {rule[name]}" for name in ("org", "datacenter") if name in rule),
    ]
    return " ".join(named) or "any request"


def _effect(step: dict[str, Any]) -> str:
    if "sequence" in step:
        return "sequence " + ", ".join(map(_effect, step["sequence"]))
    if "status" in step:
        retry = f" (retry after {step['retry_after']}s)" if "retry_after" in step else ""
        return f"{step['status']}{retry}"
    if "latency" in step:
        return _latency(step["latency"])
    if "fault" in step:
        return str(step["fault"])
    return "pass"


def _latency(latency: dict[str, Any]) -> str:
    if "fixed_ms" in latency:
        delay = f"{_number(latency['fixed_ms'])}ms"
    elif "uniform" in latency:
        uniform = latency["uniform"]
        delay = f"{_number(uniform['lower_ms'])}-{_number(uniform['upper_ms'])}ms"
    else:
        lognormal = latency["lognormal"]
        delay = (
            f"lognormal median {_number(lognormal['median_ms'])}ms "
            f"sigma {_number(lognormal['sigma'])}"
        )
    cap = f" (at most {_number(latency['max_ms'])}ms)" if "max_ms" in latency else ""
    return f"latency {delay}{cap}"


def _number(value: object) -> str:
    """A number as JSON writes it: 1, 0.25."""
    return json.dumps(value)


def _fault_admin(url: str, admin_token: str) -> EmulatorAdmin:
    """The emulator's rules API client, imported when a verb needs it: `hamr serve` loads this
    CLI too, and httpx brings its own command line (rich, pygments), ~17 MB a server would
    carry for nothing."""
    from hamr.emulator.client import EmulatorAdmin

    return EmulatorAdmin(url, admin_token)
