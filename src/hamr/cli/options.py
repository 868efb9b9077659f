"""The options `hamr serve` takes (shared with `hamr config`, which shows what they amount to),
how they become Settings (flags over HAMR_* over defaults), and docs/settings.md. Each option,
its help and the documentation are made from the setting's row in hamr.settings, never typed
again here, so none can leave a setting out or name a stale variable or default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from hamr.settings import SETTINGS, Setting, Settings, Source

F = TypeVar("F", bound=Callable[..., Any])

_TYPES = {"int": click.INT, "float": click.FLOAT}


def option_help(setting: Setting) -> str:
    """The row's help, then the variable and the default it falls back to, in brackets."""
    variable = setting.variable + ("=on|off" if setting.type == "bool" else "")
    if setting.repeatable:
        variable += ", comma-separated"
    # Spaced, so a long default wraps between its items; list settings read it so too.
    default = setting.shown(setting.default).replace(",", ", ")
    repeatable = "; repeatable" if setting.repeatable else ""
    return f"{setting.help}{repeatable} [env {variable}" + (
        f"; default {default}]" if default else "]"
    )


def flag_usage(setting: Setting) -> str:
    """How the flag is written: `--metrics/--no-metrics` for a switch, else flag and value."""
    if setting.type == "bool":
        return f"{setting.flag_name}/--no-{setting.flag_name[2:]}"
    return f"{setting.flag_name} {setting.placeholder}".strip()


def setting_option(setting: Setting) -> Callable[[F], F]:
    """The row's click option; unset, it gives None (or ()) so the variable or default applies."""
    declaration = flag_usage(setting) if setting.type == "bool" else setting.flag_name
    return click.option(
        declaration,
        setting.name,
        type=click.Choice(setting.choices) if setting.choices else _TYPES.get(setting.type),
        default=None,
        multiple=setting.repeatable,
        metavar=setting.placeholder or None,
        help=option_help(setting),
    )


database_option = setting_option(next(s for s in SETTINGS if s.name == "database_url"))


def serve_options(command: F) -> F:
    """The options of `serve`, shared with `config` (which shows what they would amount to)."""
    for setting in reversed(SETTINGS):
        command = setting_option(setting)(command)
    return command


def load_serve_settings(**options: Any) -> tuple[Settings, dict[str, Source]]:
    """Settings from `serve`'s options over HAMR_* over defaults, with where each came from. A
    repeatable option's values are read as its variable's comma-separated items would be."""
    flags = {
        name: (",".join(value) or None) if isinstance(value, tuple) else value
        for name, value in options.items()
    }
    return Settings.load_with_sources(None, rate_limit_overrides=(), **flags)


def settings_markdown() -> str:
    """docs/settings.md, written from the table so the documentation cannot leave one out."""
    rows = ["| Flag | Variable | Default | What it does |", "| --- | --- | --- | --- |"]
    for setting in SETTINGS:
        default = setting.shown(setting.default)
        repeatable = "; repeatable" if setting.repeatable else ""
        cells = (
            f"`{flag_usage(setting)}`",
            f"`{setting.variable}`",
            f"`{default}`" if default else "",
            setting.help + repeatable,
        )
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join([*_MARKDOWN_INTRO, *rows, ""])


_MARKDOWN_INTRO = (
    "# Settings",
    "",
    "`hamr serve` takes each setting from its flag, else from the environment variable",
    "`HAMR_<NAME>`, else its default. `hamr config` takes the same flags and prints what they",
    "amount to and where each came from (flag, env or default; `--json` for one object), with",
    "secrets as `***` and passwords in URLs redacted. A value that cannot be used stops hamr at",
    "start with one line naming the setting, and exit status 2.",
    "",
    "Switches take `on` or `off` (also `1`/`0`, `true`/`false`) in the environment. Repeatable",
    "flags (`--site`, `--rate-limit`) are comma-separated in their variable, and `--rate-limit`",
    "overrides `HAMR_RATE_LIMITS` bucket by bucket. `--datacenters` and `HAMR_DATACENTERS` are",
    "space- or comma-separated.",
    "",
    "This table is generated from the one in `src/hamr/settings.py` by",
    "`hamr.cli.options.settings_markdown()`; `tests/test_settings.py` fails when they differ.",
    "",
)
