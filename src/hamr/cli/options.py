"""The options `hamr serve` takes (shared with `hamr config`, which shows what they amount to)
and how they become Settings: flags over HAMR_* over defaults."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from hamr.settings import (
    DEFAULT_RATE_LIMITS,
    LOG_FORMATS,
    LOG_LEVELS,
    TRANSITION_POLICIES,
    WIRE_MODES,
    Settings,
    Source,
    parse_sites,
)

F = TypeVar("F", bound=Callable[..., Any])

database_option = click.option(
    "--database",
    "database_url",
    metavar="URL",
    help="SQLAlchemy database URL [env HAMR_DATABASE_URL; default sqlite:///./hamr.db]",
)


def serve_options(command: F) -> F:
    """The options of `serve`, shared with `config` (which shows what they would amount to)."""
    options = [
        click.option("--host", help="Address to listen on [env HAMR_HOST; default 127.0.0.1]"),
        click.option("--port", type=int, help="Port to listen on [env HAMR_PORT; default 8080]"),
        database_option,
        click.option(
            "--datacenters",
            help="Space- or comma-separated datacenters partners may be in [env HAMR_DATACENTERS]",
        ),
        click.option(
            "--rate-limit",
            "rate_limits",
            multiple=True,
            metavar="NAME=AMOUNT/SECONDS",
            help="Override one bucket's limit (hamr_get, hamr_post, hamr_unauthenticated), or "
            "NAME=off; repeatable [env HAMR_RATE_LIMITS, comma-separated; default "
            + ",".join(map(str, DEFAULT_RATE_LIMITS))
            + "]",
        ),
        click.option(
            "--rate-limit-storage",
            metavar="URL",
            help="memory:// or redis://host:port/db to share limits between processes "
            "[env HAMR_RATE_LIMIT_STORAGE; default memory://]",
        ),
        click.option(
            "--metrics/--no-metrics",
            default=None,
            help="Serve Prometheus metrics [env HAMR_METRICS=on|off; default on]",
        ),
        click.option(
            "--metrics-port",
            type=int,
            help="Serve /metrics on this port instead of the API's [env HAMR_METRICS_PORT]",
        ),
        click.option(
            "--log-level", type=click.Choice(LOG_LEVELS), help="[env HAMR_LOG_LEVEL; default info]"
        ),
        click.option(
            "--log-format",
            type=click.Choice(LOG_FORMATS),
            help="[env HAMR_LOG_FORMAT; default json]",
        ),
        click.option(
            "--wire",
            type=click.Choice(WIRE_MODES),
            help="Response format: both (the contract's attributes and the live API's), live "
            "(exactly as Datadog's live API answers) or contract [env HAMR_WIRE; default both]",
        ),
        click.option(
            "--transitions",
            type=click.Choice(TRANSITION_POLICIES),
            help="Status moves outside the HAMR lifecycle: off (stored), warn (stored with "
            "X-Hamr-Warning and a marked history row) or enforce (409) "
            "[env HAMR_TRANSITIONS; default warn]",
        ),
        click.option(
            "--stuck-after",
            "stuck_after_seconds",
            type=float,
            metavar="SECONDS",
            help="A pair in FAILOVER or RECOVERY longer than this is reported stuck "
            "[env HAMR_STUCK_AFTER_SECONDS; default 900]",
        ),
        click.option(
            "--emulator/--no-emulator",
            default=None,
            help="Serve the emulator's admin API under /_hamr/ (reset, clock, faults, state) "
            "for test suites "
            "[env HAMR_EMULATOR=on|off; default off]",
        ),
        click.option(
            "--admin-token",
            metavar="TOKEN",
            help="What X-Hamr-Admin-Token must be for /_hamr/ (16 characters or more) "
            "[env HAMR_ADMIN_TOKEN; default: generated and printed at start]",
        ),
        click.option(
            "--site",
            "sites",
            multiple=True,
            metavar="DATACENTER=HOST:PORT",
            help="Also serve one datacenter on its own address, where only its orgs' keys work "
            "(as Datadog has one API host per site); repeatable "
            "[env HAMR_SITES, comma-separated; default none]",
        ),
        click.option(
            "--state",
            "state_file",
            metavar="FILE",
            help="With --emulator: start from this state (as GET /_hamr/state wrote it), "
            "replacing what the database holds [env HAMR_STATE_FILE]",
        ),
        click.option(
            "--faults",
            "faults_file",
            metavar="FILE",
            help="With --emulator: start with these fault rules (a YAML or JSON list) "
            "[env HAMR_FAULTS_FILE]",
        ),
        click.option(
            "--shutdown-grace",
            "shutdown_grace_seconds",
            type=int,
            metavar="SECONDS",
            help="On SIGTERM, how long in-flight requests may take to finish "
            "[env HAMR_SHUTDOWN_GRACE_SECONDS; default 10]",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def load_serve_settings(
    datacenters: str | None,
    rate_limits: tuple[str, ...],
    sites: tuple[str, ...],
    **options: Any,
) -> tuple[Settings, dict[str, Source]]:
    """Settings from `serve`'s options over HAMR_* over defaults, with where each came from."""
    return Settings.load_with_sources(
        datacenters=frozenset(datacenters.replace(",", " ").split()) if datacenters else None,
        sites=parse_sites(sites) if sites else None,
        rate_limit_overrides=rate_limits,
        **options,
    )
