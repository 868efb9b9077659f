"""One typed settings object, from command-line flags over HAMR_* environment variables over
defaults. Invalid values fail at start-up with a sentence naming the setting."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from hamr.domain.rules import DEFAULT_DATACENTERS

DEFAULT_DATABASE_URL = "sqlite:///./hamr.db"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


class SettingsError(ValueError):
    """A setting that cannot be used; the message names it and says what is allowed."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8080
    datacenters: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_DATACENTERS))
    max_body_bytes: int = 64 * 1024
    log_level: str = "info"
    db_pool_size: int = 5
    credentials_poll_seconds: float = 0.25
    gc_period_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be between 0 and 65535, not {self.port}")
        if not self.datacenters:
            raise SettingsError("datacenters must name at least one datacenter")
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(
                f"log level must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}"
            )
        if self.db_pool_size < 2:
            raise SettingsError("db pool size must be at least 2 (one reader, one writer)")
        if self.max_body_bytes <= 0:
            raise SettingsError("max body bytes must be positive")
        if self.credentials_poll_seconds <= 0:
            raise SettingsError("credentials poll seconds must be positive")
        if self.gc_period_seconds <= 0:
            raise SettingsError("gc period seconds must be positive")

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **flags: object) -> Settings:
        """Flags given as None fall back to HAMR_<NAME> in the environment, then the default."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for setting in fields(cls):
            flag = flags.get(setting.name)
            raw = environ.get(f"HAMR_{setting.name.upper()}")
            if flag is not None:
                values[setting.name] = flag
            elif raw is not None and raw.strip():
                values[setting.name] = _parse(setting.name, raw.strip())
        unknown = set(flags) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        return cls(**values)  # type: ignore[arg-type]


def _parse(name: str, raw: str) -> object:
    """Environment values are text; convert them to the setting's type."""
    try:
        if name in ("port", "max_body_bytes", "db_pool_size"):
            return int(raw)
        if name in ("credentials_poll_seconds", "gc_period_seconds"):
            return float(raw)
    except ValueError:
        raise SettingsError(f"HAMR_{name.upper()} must be a number, not {raw!r}") from None
    if name == "datacenters":
        return frozenset(raw.replace(",", " ").split())
    if name == "log_level":
        return raw.lower()
    return raw
