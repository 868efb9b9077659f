"""hamr's app built as `hamr serve` builds it (settings from HAMR_* variables, logging set up),
for granian to serve in bench/granian_vs_uvicorn.py: `granian --interface asgi --factory
granian_app:app`."""

from __future__ import annotations

from hamr.api.app import HamrApp
from hamr.bootstrap import create_app
from hamr.server.logs import configure_logging
from hamr.settings import Settings


def app() -> HamrApp:
    settings, _sources = Settings.load_with_sources()
    configure_logging(settings.log_level, settings.log_format)
    return create_app(settings)
