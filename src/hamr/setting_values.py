"""The values some settings parse into (a datacenter's own site, a rate limit bucket's limit),
their parsers, and the error every invalid setting raises: kept apart from settings.py, whose
table they serve, and importable from it as before."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from hamr.domain.rules import canonical_datacenter


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
