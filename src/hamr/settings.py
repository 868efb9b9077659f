"""One typed settings object, from command-line flags over HAMR_* environment variables over
defaults. Each setting is declared once, as a field of `Settings` carrying its row of the table
(`Setting`): its variable, flag, help, check and how `hamr config` shows it all come from that
row, so the CLI, `hamr config` and docs/settings.md cannot drift apart. Invalid values fail at
start-up with a sentence naming the setting."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from hamr.domain.lifecycle import STUCK_AFTER_SECONDS
from hamr.domain.model import Policy
from hamr.domain.rules import DEFAULT_DATACENTERS
from hamr.setting_values import DEFAULT_RATE_LIMITS as DEFAULT_RATE_LIMITS
from hamr.setting_values import RATE_LIMIT_BUCKETS as RATE_LIMIT_BUCKETS
from hamr.setting_values import RateLimit as RateLimit
from hamr.setting_values import SettingsError as SettingsError
from hamr.setting_values import Site as Site
from hamr.setting_values import parse_rate_limits as parse_rate_limits
from hamr.setting_values import parse_sites as parse_sites

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
# The request header that carries it, spelled here once.
ADMIN_HEADER = "X-Hamr-Admin-Token"


def redact_url(url: str) -> str:
    """The URL with any password replaced by `***`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


# Given a setting's name in words, its value and all the settings: what is wrong, or None.
Check = Callable[[str, Any, "Settings"], "str | None"]
_SWITCHES = {"1": True, "true": True, "on": True, "0": False, "false": False, "off": False}


@dataclass(frozen=True, slots=True)
class Setting:
    """One row of the settings table. Its name, type and default are those of its field in
    `Settings`; the rest says how it is read, checked, offered as a flag and shown."""

    help: str
    flag: str = ""  # when not --NAME less any _seconds suffix
    metavar: str = ""
    choices: tuple[str, ...] = ()
    parse: Callable[[str], Any] | None = None  # text to value; by the field's type when None
    check: Check | None = None
    show: Callable[[Any], str] = str
    secret: bool = False  # shown as ***, however it is set
    unset: str = ""  # what an empty value means, for secrets
    repeatable: bool = False  # one flag per item; the variable separates them with commas
    layered: bool = False  # flags override the variable's items one by one, not as a whole
    name: str = ""
    type: str = ""
    default: Any = None

    @property
    def variable(self) -> str:
        return f"HAMR_{self.name.upper()}"

    @property
    def flag_name(self) -> str:
        return self.flag or "--" + self.name.removesuffix("_seconds").replace("_", "-")

    @property
    def placeholder(self) -> str:
        """What the flag's value is called in help: the metavar, or SECONDS for durations."""
        return self.metavar or ("SECONDS" if self.name.endswith("_seconds") else "")

    def read(self, text: str, where: str) -> Any:
        """Text (from the variable, or a flag click left as text) as the setting's value; a
        mistake names `where` it came from when the type alone is wrong."""
        if self.parse is not None:
            return self.parse(text)
        if self.choices:
            return text.lower()
        if self.type == "bool":
            if text.lower() not in _SWITCHES:
                raise SettingsError(f"{where} must be on or off, not {text!r}")
            return _SWITCHES[text.lower()]
        number = {"int": int, "float": float}.get(self.type)
        try:
            return text if number is None else number(text)
        except ValueError:
            raise SettingsError(f"{where} must be a number, not {text!r}") from None

    def problem(self, value: Any, settings: Settings) -> str | None:
        """What is wrong with the value, in a sentence naming the setting; None when fine."""
        words = self.name.replace("_", " ")
        if self.choices and value not in self.choices:
            return f"{words} must be one of {', '.join(self.choices)}, not {value!r}"
        return self.check(words, value, settings) if self.check else None

    def shown(self, value: Any) -> str:
        """The value as `hamr config` prints it: secrets as ***, passwords in URLs redacted."""
        if self.secret:
            return "***" if value else f"({self.unset})"
        return ("on" if value else "off") if self.type == "bool" else self.show(value)


def _setting(default: Any, help: str, **row: Any) -> Any:
    """A `Settings` field with its row; typed Any so each field keeps its annotated type."""
    return field(default=default, metadata={"setting": Setting(help, **row)})


def _rule(holds: Callable[[Any], bool], message: str) -> Check:
    """A check of the value alone; the message follows the setting's name in words."""
    return lambda words, value, _: None if holds(value) else f"{words} {message}"


_PORT = _rule(lambda port: 0 <= port <= 65535, "must be between 0 and 65535")
_POSITIVE = _rule(lambda amount: amount > 0, "must be positive")


def _needs_emulator(words: str, value: str, settings: Settings) -> str | None:
    return f"{words} needs the emulator (--emulator)" if value and not settings.emulator else None


def _beside_postgresql(words: str, value: str, settings: Settings) -> str | None:
    if value and (settings.database_url.startswith("sqlite") or value.startswith("sqlite")):
        return f"{words} needs PostgreSQL, both there and in --database"
    return None


def _known_datacenter(words: str, value: str, settings: Settings) -> str | None:
    if not value or value in settings.datacenters:
        return None
    return f"{words} must be one of the datacenters ({', '.join(sorted(settings.datacenters))})"


def _sites_fit(_: str, sites: tuple[Site, ...], settings: Settings) -> str | None:
    """A request's site is known by the port it came to, so each site has a port of its own."""
    seen: set[str] = set()
    ports = {settings.port}
    for site in sites:
        if site.datacenter not in settings.datacenters:
            return (
                f"site {site} names datacenter {site.datacenter!r}, which is not one of "
                f"the datacenters ({', '.join(sorted(settings.datacenters))})"
            )
        if site.datacenter in seen:
            return f"datacenter {site.datacenter!r} has more than one site"
        if not 0 < site.port <= 65535:
            return f"site {site} needs a port between 1 and 65535"
        if site.port in ports:
            return f"site {site} needs a port of its own; {site.port} is already hamr's"
        seen.add(site.datacenter)
        ports.add(site.port)
    return None


def _storage(words: str, url: str, _: Settings) -> str | None:
    if urlsplit(url).scheme in ("memory", "redis", "rediss"):
        return None
    return f"{words} must be memory:// or a redis://host:port URL, not {redact_url(url)!r}"


def _joined(empty: str) -> Callable[[Any], str]:
    return lambda items: ",".join(map(str, items)) or empty


@dataclass(frozen=True, slots=True)
class Settings:
    """Every setting, typed and checked; each field is one row of the table (see `Setting`)."""

    # One row per setting: its default, its help, then what differs from the usual.
    # fmt: off
    database_url: str = _setting(
        DEFAULT_DATABASE_URL, "SQLAlchemy database URL: sqlite:///PATH or "
        "postgresql://USER:PASSWORD@HOST/DB", flag="--database", metavar="URL", show=redact_url)
    host: str = _setting("127.0.0.1", "Address to listen on")
    port: int = _setting(8080, "Port to listen on", check=_PORT)
    sites: tuple[Site, ...] = _setting(
        (), "Also serve one datacenter on its own address, where only its orgs' keys work (as "
        "Datadog has one API host per site)", flag="--site", metavar="DATACENTER=HOST:PORT",
        repeatable=True, parse=lambda text: parse_sites([text]), show=_joined("none"),
        check=_sites_fit)
    datacenter: str = _setting(
        "", "This hamr's own datacenter (one site of a multi-site deployment): only its orgs' "
        "keys work here, others get a 403 naming their own site; empty serves every datacenter",
        metavar="DATACENTER", check=_known_datacenter)
    datacenters: frozenset[str] = _setting(
        frozenset(DEFAULT_DATACENTERS), "Space- or comma-separated datacenters partners may be "
        "in", parse=lambda text: frozenset(text.replace(",", " ").split()),
        show=lambda names: ",".join(sorted(names)),
        check=_rule(bool, "must name at least one datacenter"))
    wire: str = _setting(
        "both", "Response format: both (the contract's attributes and the live API's), live "
        "(exactly as Datadog's live API answers) or contract", choices=WIRE_MODES)
    transitions: str = _setting(
        "warn", "Status moves outside the HAMR lifecycle: off (stored), warn (stored with "
        "X-Hamr-Warning and a marked history row) or enforce (409)", choices=TRANSITION_POLICIES)
    stuck_after_seconds: float = _setting(
        STUCK_AFTER_SECONDS, "A pair in FAILOVER or RECOVERY longer than this is reported stuck",
        check=_POSITIVE)
    db_pool_size: int = _setting(
        5, "Database connections per process (PostgreSQL)",
        check=_rule(lambda size: size >= 2, "must be at least 2 (one reader, one writer)"))
    db_timeout_seconds: float = _setting(
        2.0, "How long a request waits for the database before a 503 with Retry-After; "
        "PostgreSQL's connect and statement timeouts", check=_POSITIVE)
    read_database_url: str = _setting(
        "", "This site's own PostgreSQL node (a replica of --database's): reads that miss the "
        "cache are served from it while its copy is within --max-staleness", flag="--read-database",
        metavar="URL", show=redact_url, check=_beside_postgresql)
    max_staleness_seconds: float = _setting(
        2.0, "How old a copy --read-database may serve: the leader is read instead past it, "
        "and while the leader cannot be reached, reads past it are a 503", check=_POSITIVE)
    patroni_url: str = _setting(
        "", "The site's own Patroni REST API: while the leader cannot be reached and Patroni "
        "still sees the consensus store, --read-database's copy is served past the bound",
        metavar="URL")
    write_timeout_seconds: float = _setting(
        5.0, "How long a write waits for PostgreSQL (a frozen or cut-off server) before a 503 "
        "saying whether it may have been stored; the write is not cancelled (SQLite, a local "
        "file, is not timed)", check=_POSITIVE)
    rate_limits: tuple[RateLimit, ...] = _setting(
        DEFAULT_RATE_LIMITS, "Override one bucket's limit (hamr_get, hamr_post, "
        "hamr_unauthenticated), or NAME=off; flags override the variable bucket by bucket",
        flag="--rate-limit", metavar="NAME=AMOUNT/SECONDS", repeatable=True, layered=True,
        parse=lambda text: parse_rate_limits([text]), show=_joined("off"))
    rate_limit_storage: str = _setting(
        "memory://", "memory:// or redis://host:port/db to share limits between processes",
        metavar="URL", show=redact_url, check=_storage)
    max_body_bytes: int = _setting(
        64 * 1024, "Largest request body, before and after decompression; past it, a 413",
        check=_POSITIVE)
    max_header_bytes: int = _setting(
        64 * 1024, "Largest request line and headers, in all; past them, a 431", check=_POSITIVE)
    max_connections: int = _setting(
        1000, "Connections open at once (lowered to fit the process's descriptor limit); past "
        "them, a 503", check=_POSITIVE)
    header_timeout_seconds: float = _setting(
        10.0, "A connection that sends no request's headers for this long is closed",
        check=_POSITIVE)
    body_timeout_seconds: float = _setting(
        30.0, "A request's whole body must arrive within this long of its headers, or it gets "
        "a 408 and its connection is closed (half nginx's 60 s: a HAMR body is one small write)",
        check=_POSITIVE)
    keep_alive_seconds: float = _setting(
        5.0, "An idle kept-alive connection is closed after this long", check=_POSITIVE)
    shutdown_grace_seconds: int = _setting(
        10, "On SIGTERM, how long in-flight requests may take to finish",
        check=_rule(lambda seconds: seconds >= 0, "must not be negative"))
    log_level: str = _setting(
        "info", "What to log: critical, error, warning (drops the request lines), info or "
        "debug", choices=LOG_LEVELS)
    log_format: str = _setting("json", "Log lines as json or as text", choices=LOG_FORMATS)
    metrics: bool = _setting(True, "Serve Prometheus metrics at /metrics")
    metrics_port: int = _setting(
        0, "Serve /metrics on this port instead of the API's (0: the API's own)", check=_PORT)
    emulator: bool = _setting(
        False, "Serve the emulator's admin API under /_hamr/ (reset, clock, faults, state) for "
        "test suites")
    admin_token: str = _setting(
        "", f"What {ADMIN_HEADER} must be for /_hamr/ ({MIN_ADMIN_TOKEN_LENGTH} characters "
        "or more); hamr prints the one it generates", metavar="TOKEN", secret=True,
        unset="generated at start", check=_rule(
            lambda token: not token or len(token) >= MIN_ADMIN_TOKEN_LENGTH,
            f"must be at least {MIN_ADMIN_TOKEN_LENGTH} characters long"))
    state_file: str = _setting(
        "", "With --emulator: start from this state (as GET /_hamr/state wrote it), replacing "
        "what the database holds", flag="--state", metavar="FILE", check=_needs_emulator)
    faults_file: str = _setting(
        "", "With --emulator: start with these fault rules (a YAML or JSON list)",
        flag="--faults", metavar="FILE", check=_needs_emulator)
    session_secret: str = _setting(
        "", "Signs the web page's session cookies; give every process behind one address the "
        "same (when random, sessions end at restart)", metavar="SECRET", secret=True,
        unset="random per process")
    credentials_poll_seconds: float = _setting(
        0.1, "How often a server checks for revoked keys and other processes' writes",
        check=_POSITIVE)
    gc_period_seconds: float = _setting(
        30.0, "Full garbage collections run on this period instead of under load",
        check=_POSITIVE)
    # fmt: on

    def __post_init__(self) -> None:
        """Every row's check, however the settings were made: flags, variables or code."""
        for setting in SETTINGS:
            problem = setting.problem(getattr(self, setting.name), self)
            if problem is not None:
                raise SettingsError(problem)

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
        """The settings, and where each came from (for `hamr config`). A flag given as text
        is read as its variable would be; a layered one's text (`--rate-limit`, or
        `rate_limit_overrides`) overrides the variable's items one by one, not as a whole."""
        environ = os.environ if environ is None else environ
        unknown = set(flags) - {setting.name for setting in SETTINGS}
        if unknown:
            raise TypeError(f"unknown settings: {sorted(unknown)}")
        if rate_limit_overrides:
            flags["rate_limits"] = ",".join(rate_limit_overrides)
        values: dict[str, object] = {}
        sources: dict[str, Source] = {}
        for setting in SETTINGS:
            flag, raw = flags.get(setting.name), environ.get(setting.variable, "").strip()
            if isinstance(flag, str):
                text = f"{raw},{flag}" if setting.layered else flag
                flag = setting.read(text, setting.flag_name)
            if flag is not None:
                values[setting.name], sources[setting.name] = flag, "flag"
            elif raw:
                values[setting.name] = setting.read(raw, setting.variable)
                sources[setting.name] = "env"
            else:
                sources[setting.name] = "default"
        return cls(**values), sources  # type: ignore[arg-type]

    def redacted(self) -> dict[str, str]:
        """Every setting as text, secrets as *** and passwords in URLs replaced: safe to print
        or log."""
        return {setting.name: setting.shown(getattr(self, setting.name)) for setting in SETTINGS}


# The table, in the order `hamr config`, `hamr serve --help` and docs/settings.md list it.
SETTINGS: tuple[Setting, ...] = tuple(
    replace(column.metadata["setting"], name=column.name, type=str(column.type),
            default=column.default)
    for column in fields(Settings)
)  # fmt: skip
