"""hamr: a self-hostable server for Datadog's HAMR organization connection API."""

__version__ = "0.1.0"
