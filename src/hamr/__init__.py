"""hamr: a self-hostable server for Datadog's HAMR organization connection API."""

__version__ = "0.2.0"
