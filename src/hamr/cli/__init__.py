"""The `hamr` command: one click group with one error policy, a module per verb family."""

from hamr.cli.main import main

__all__ = ["main"]
