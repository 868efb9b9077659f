"""One typed settings object, from command-line flags over HAMR_* environment variables over
defaults. Invalid values fail at start-up with a sentence naming the setting."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from hamr.domain.lifecycle import STUCK_AFTER_SECONDS
from hamr.domain.model import Policy
from hamr.domain.rules import DEFAULT_DATACENTERS, canonical_datacenter

DEFAULT_DATABASE_URL = "sqlite:///./hamr.db"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
LOG_FORMATS = ("json", "text")
# How connection documents are written: both spellings (every client reads it), as Datadog's
# live API writes them, or as its published contract does.
WIRE_MODES = ("both", "live", "contract")
# What a status move outside the HAMR lifecycle gets: stored silently, stored with a warning,
# or refused (hamr.domain.lifecycle).
TRANSITION_POLICIES = tuple(policy.value for policy in Policy)
Source = Literal["flag", "env", "default"]
# An emulator's admin token, when given rather than generated, is at least this long.
MIN_ADMIN_TOKEN_LENGTH = 16


class SettingsError(ValueError):
    """A setting that cannot be used; the message names it and says what is allowed."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """`amount` requests per `period` seconds in one bucket; windows start on multiples of the
    period (a 60 s period resets on the minute), as Datadog's do."""

    name: str
    amount: int
    period: int

    def __str__(self) -> str:
        return f"{self.name}={self.amount}/{self.period}"


@dataclass(frozen=True, slots=True)
class Site:
    """One datacenter's own API host (`--site eu1=127.0.0.1:8081`), as Datadog has one per
    site: the keys of that datacenter's orgs work there and nowhere else."""

    datacenter: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.datacenter}={self.address}"

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


_SITE = re.compile(r"^\s*([\w.-]+)\s*=\s*(\[[^\]]+\]|[^:\s]+):(\d+)\s*$")


def parse_sites(specs: Sequence[str]) -> tuple[Site, ...]:
    """`DATACENTER=HOST:PORT` specs (comma-separated or one each) as sites, in order."""
    sites: list[Site] = []
    for spec in (part for item in specs for part in item.split(",") if part.strip()):
        match = _SITE.match(spec)
        if match is None:
            raise SettingsError(
                f"site {spec.strip()!r} must look like DATACENTER=HOST:PORT "
                "(e.g. eu1=127.0.0.1:8081)"
            )
        datacenter, host, port = match.groups()
        sites.append(Site(canonical_datacenter(datacenter), host.strip("[]"), int(port)))
    return tuple(sites)


# Buckets: the two HAMR operations per organization, and refused credentials per client address.
RATE_LIMIT_BUCKETS = ("hamr_get", "hamr_post", "hamr_unauthenticated")
DEFAULT_RATE_LIMITS = (
    RateLimit("hamr_get", 1000, 60),
    RateLimit("hamr_post", 100, 60),
    RateLimit("hamr_unauthenticated", 100, 60),
)
_RATE_LIMIT = re.compile(r"^\s*(\w+)\s*=\s*(?:(\d+)\s*/\s*(\d+)|(off))\s*$")


def parse_rate_limits(specs: list[str] | tuple[str, ...]) -> tuple[RateLimit, ...]:
    """`NAME=AMOUNT/SECONDS` (or `NAME=off`) overriding the defaults bucket by bucket."""
    limits = {limit.name: limit for limit in DEFAULT_RATE_LIMITS}
    for spec in (part for item in specs for part in item.split(",") if part.strip()):
        match = _RATE_LIMIT.match(spec)
        if match is None:
            raise SettingsError(
                f"rate limit {spec.strip()!r} must look like NAME=AMOUNT/SECONDS "
                "(e.g. hamr_get=1000/60) or NAME=off"
            )
        name, amount, period, off = match.groups()
        if name not in RATE_LIMIT_BUCKETS:
            raise SettingsError(
                f"rate limit bucket {name!r} is unknown; use {', '.join(RATE_LIMIT_BUCKETS)}"
            )
        if off:
            limits.pop(name, None)
            continue
        if int(amount) < 1 or int(period) < 1:
            raise SettingsError(f"rate limit {spec.strip()!r} needs an amount and period ≥ 1")
        limits[name] = RateLimit(name, int(amount), int(period))
    return tuple(limits[name] for name in RATE_LIMIT_BUCKETS if name in limits)


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8080
    datacenters: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_DATACENTERS))
    max_body_bytes: int = 64 * 1024
    log_level: str = "info"
    log_format: str = "json"
    db_pool_size: int = 5
    db_timeout_seconds: float = 2.0
    credentials_poll_seconds: float = 0.1
    gc_period_seconds: float = 30.0
    rate_limits: tuple[RateLimit, ...] = DEFAULT_RATE_LIMITS
    rate_limit_storage: str = "memory://"
    metrics: bool = True
    metrics_port: int = 0
    shutdown_grace_seconds: int = 10
    # Connection limits (http_protocol.py): an idle keep-alive connection is closed after
    # keep_alive_seconds, one that has not sent a request's headers after
    # header_timeout_seconds; past max_connections requests get a 503, and headers past
    # max_header_bytes in all a 431.
    keep_alive_seconds: float = 5.0
    header_timeout_seconds: float = 10.0
    max_connections: int = 1000
    max_header_bytes: int = 64 * 1024
    wire: str = "both"
    transitions: str = "warn"
    stuck_after_seconds: float = STUCK_AFTER_SECONDS
    emulator: bool = False
    admin_token: str = ""
    # Signs the web page's session cookies; random per process when empty (sessions then end
    # when it restarts, and several processes need one secret in common).
    session_secret: str = ""
    sites: tuple[Site, ...] = ()
    state_file: str = ""
    faults_file: str = ""

    def __post_init__(self) -> None:
        for name in ("port", "metrics_port"):
            if not 0 <= getattr(self, name) <= 65535:
                raise SettingsError(f"{_words(name)} must be between 0 and 65535")
        if not self.datacenters:
            raise SettingsError("datacenters must name at least one datacenter")
        if self.log_level not in LOG_LEVELS:
            raise SettingsError(
                f"log level must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}"
            )
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(
                f"log format must be one of {', '.join(LOG_FORMATS)}, not {self.log_format!r}"
            )
        if self.db_pool_size < 2:
            raise SettingsError("db pool size must be at least 2 (one reader, one writer)")
        for name in (
            "max_body_bytes",
            "keep_alive_seconds",
            "header_timeout_seconds",
            "max_connections",
            "max_header_bytes",
            "credentials_poll_seconds",
            "gc_period_seconds",
            "stuck_after_seconds",
            "db_timeout_seconds",
        ):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{_words(name)} must be positive")
        if self.wire not in WIRE_MODES:
            raise SettingsError(f"wire must be one of {', '.join(WIRE_MODES)}, not {self.wire!r}")
        if self.transitions not in TRANSITION_POLICIES:
            raise SettingsError(
                f"transitions must be one of {', '.join(TRANSITION_POLICIES)}, "
                f"not {self.transitions!r}"
            )
        if self.admin_token and len(self.admin_token) < MIN_ADMIN_TOKEN_LENGTH:
            raise SettingsError(
                f"admin token must be at least {MIN_ADMIN_TOKEN_LENGTH} characters long"
            )
        self._check_sites()
        for name in ("state_file", "faults_file"):
            if getattr(self, name) and not self.emulator:
                raise SettingsError(f"{_words(name)} needs the emulator (--emulator)")
        if self.shutdown_grace_seconds < 0:
            raise SettingsError("shutdown grace seconds must not be negative")
        scheme = urlsplit(self.rate_limit_storage).scheme
        if scheme not in ("memory", "redis", "rediss"):
            raise SettingsError(
                "rate limit storage must be memory:// or a redis://host:port URL, "
                f"not {redact_url(self.rate_limit_storage)!r}"
            )

    def _check_sites(self) -> None:
        seen: set[str] = set()
        # A request's site is known by the port it came to, so each site has its own.
        ports = {self.port}
        for site in self.sites:
            if site.datacenter not in self.datacenters:
                raise SettingsError(
                    f"site {site} names datacenter {site.datacenter!r}, which is not one of "
                    f"the datacenters ({', '.join(sorted(self.datacenters))})"
                )
            if site.datacenter in seen:
                raise SettingsError(f"datacenter {site.datacenter!r} has more than one site")
            if not 0 < site.port <= 65535:
                raise SettingsError(f"site {site} needs a port between 1 and 65535")
            if site.port in ports:
                raise SettingsError(
                    f"site {site} needs a port of its own; {site.port} is already hamr's"
                )
            seen.add(site.datacenter)
            ports.add(site.port)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **flags: object) -> Settings:
        """Flags given as None fall back to HAMR_<NAME> in the environment, then the default."""
        return cls.load_with_sources(environ, rate_limit_overrides=(), **flags)[0]

    @classmethod
    def load_with_sources(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        rate_limit_overrides: Sequence[str] = (),
        **flags: object,
    ) -> tuple[Settings, dict[str, Source]]:
        """The settings, and where each came from (for `hamr config`). Rate limit flags
        (`NAME=AMOUNT/SECONDS`) override HAMR_RATE_LIMITS bucket by bucket, not as a whole."""
        environ = os.environ if environ is None else environ
        unknown = set(flags) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        if rate_limit_overrides:
            flags["rate_limits"] = parse_rate_limits(
                [environ.get("HAMR_RATE_LIMITS", ""), *rate_limit_overrides]
            )
        values: dict[str, object] = {}
        sources: dict[str, Source] = {}
        for setting in fields(cls):
            flag = flags.get(setting.name)
            raw = environ.get(f"HAMR_{setting.name.upper()}")
            if flag is not None:
                values[setting.name], sources[setting.name] = flag, "flag"
            elif raw is not None and raw.strip():
                values[setting.name] = _parse(setting.name, raw.strip())
                sources[setting.name] = "env"
            else:
                sources[setting.name] = "default"
        return cls(**values), sources  # type: ignore[arg-type]

    def redacted(self) -> dict[str, str]:
        """Every setting as text, with passwords in URLs replaced: safe to print or log."""
        shown: dict[str, str] = {}
        for setting in fields(self):
            value = getattr(self, setting.name)
            if setting.name == "admin_token":
                shown[setting.name] = "***" if value else "(generated at start)"
            elif setting.name == "session_secret":
                shown[setting.name] = "***" if value else "(random per process)"
            elif setting.name in ("database_url", "rate_limit_storage"):
                shown[setting.name] = redact_url(value)
            elif setting.name == "datacenters":
                shown[setting.name] = ",".join(sorted(value))
            elif setting.name == "rate_limits":
                shown[setting.name] = ",".join(map(str, value)) or "off"
            elif setting.name == "sites":
                shown[setting.name] = ",".join(map(str, value)) or "none"
            elif isinstance(value, bool):
                shown[setting.name] = "on" if value else "off"
            else:
                shown[setting.name] = str(value)
        return shown


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _words(name: str) -> str:
    return name.replace("_", " ")


_INTEGERS = frozenset(
    (
        "port",
        "metrics_port",
        "max_body_bytes",
        "db_pool_size",
        "shutdown_grace_seconds",
        "max_connections",
        "max_header_bytes",
    )
)
_FLOATS = frozenset(
    (
        "credentials_poll_seconds",
        "gc_period_seconds",
        "stuck_after_seconds",
        "db_timeout_seconds",
        "keep_alive_seconds",
        "header_timeout_seconds",
    )
)
_SWITCHES = {"1": True, "true": True, "on": True, "0": False, "false": False, "off": False}


def _parse(name: str, raw: str) -> object:
    """Environment values are text; convert them to the setting's type."""
    variable = f"HAMR_{name.upper()}"
    try:
        if name in _INTEGERS:
            return int(raw)
        if name in _FLOATS:
            return float(raw)
    except ValueError:
        raise SettingsError(f"{variable} must be a number, not {raw!r}") from None
    if name in ("metrics", "emulator"):
        if raw.lower() not in _SWITCHES:
            raise SettingsError(f"{variable} must be on or off, not {raw!r}")
        return _SWITCHES[raw.lower()]
    if name == "rate_limits":
        return parse_rate_limits([raw])
    if name == "datacenters":
        return frozenset(raw.replace(",", " ").split())
    if name == "sites":
        return parse_sites([raw])
    if name in ("log_level", "log_format", "wire", "transitions"):
        return raw.lower()
    return raw
