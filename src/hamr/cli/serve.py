"""`hamr serve` (the default verb) and `hamr config`, which shows the settings serve would
use with the same options, and where each came from."""

from __future__ import annotations

import secrets
import socket
import sys
from dataclasses import replace
from typing import Any

import click

from hamr.cli.options import load_serve_settings, serve_options
from hamr.cli.support import emit
from hamr.settings import ADMIN_HEADER, Settings


@click.command()
@serve_options
@click.option(
    "--demo",
    is_flag=True,
    help="Create two demo orgs with keys and print how to call them; on a database that has "
    "them already, make no keys (they were printed at the first start) and print their pair's "
    "status.",
)
def serve(demo: bool, **options: Any) -> None:
    """Serve the HAMR API (the default verb)."""
    from hamr.server.listen import all_listening_sockets

    settings, _sources = load_serve_settings(**options)
    # First, so a port in use is one line, before the database is opened or anything logged.
    sockets = all_listening_sockets(settings)
    try:
        _serve_on(sockets, settings, demo)
    finally:
        for sock in sockets:
            sock.close()


def _serve_on(sockets: list[socket.socket], settings: Settings, demo: bool) -> None:
    """Run uvicorn on sockets hamr made, so uvicorn never binds (nor fails to) itself."""
    from hamr.bootstrap import create_app
    from hamr.server.listen import server_for
    from hamr.server.logs import configure_logging
    from hamr.usecases.demo import start_demo

    configure_logging(settings.log_level, settings.log_format)
    if settings.emulator and not settings.admin_token:
        settings = replace(settings, admin_token=secrets.token_urlsafe(24))
        click.echo(f"emulator admin API at /_hamr/; send {ADMIN_HEADER}: {settings.admin_token}")
    app = create_app(settings)
    if demo:
        click.echo(start_demo(app.state.service, f"http://{settings.host}:{settings.port}"))
        sys.stdout.flush()
    server_for(app, settings, app.emulator.faults if app.emulator else None).run(sockets=sockets)


@click.command()
@serve_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def config(as_json: bool, **options: Any) -> None:
    """Print the settings `serve` would use with these options, and where each came from
    (flag, env or default). Passwords in URLs are redacted."""
    settings, sources = load_serve_settings(**options)
    shown = settings.redacted()
    payload = {name: {"value": value, "source": sources[name]} for name, value in shown.items()}
    width = max(map(len, shown))
    text = "\n".join(
        f"{name:<{width}}  {value}  ({sources[name]})" for name, value in shown.items()
    )
    emit(as_json, payload, text)
