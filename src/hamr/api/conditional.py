"""Conditional requests as HTTP spells them: a connection's strong ETag, and `If-Match` /
`If-None-Match` on POST turned into the domain's Precondition (checked in the write's
transaction; api/errors.py names the header of one that fails)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from starlette.datastructures import Headers

from hamr.api.compression import gzipped
from hamr.api.errors import IF_MATCH, IF_NONE_MATCH
from hamr.api.wire import WireFormat
from hamr.domain.model import Connection, Precondition, Versions

ETAG = "ETag"
# An entity tag in a list (RFC 9110 §8.8.3): optionally weak, then a quoted opaque tag.
_ENTITY_TAG = re.compile(r'(W/)?("[\x21\x23-\x7e\x80-\xff]*")')


class Encoded:
    """A connection's document in one wire format, with its ETag: both computed once, and
    its gzipped bytes the first time a client asks for them. Slotted: one is kept per cached
    org."""

    __slots__ = ("_gzipped", "body", "etag")

    def __init__(self, body: bytes, etag: str):
        self.body = body
        self.etag = etag
        self._gzipped: bytes | None = None

    @property
    def gzipped(self) -> bytes:
        if self._gzipped is None:
            self._gzipped = gzipped(self.body)
        return self._gzipped


def etag_of(body: bytes) -> str:
    """A strong ETag: a digest of the exact bytes, so equal documents share it and any change
    to what is served changes it (the wire format included)."""
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def encode(wire: WireFormat, connection: Connection) -> Encoded:
    body = wire.document(connection)
    return Encoded(body, etag_of(body))


def versions_in(wire: WireFormat) -> Callable[[Connection], str]:
    """How the write names the stored connection's version: the ETag a GET would send."""
    return lambda connection: etag_of(wire.document(connection))


def precondition_from(headers: Headers, wire: WireFormat) -> Precondition | None:
    """The conditions a POST sets, or None without If-Match or If-None-Match. If-Match
    compares strongly (a weak tag never matches; nor does one hamr could not have sent);
    If-None-Match weakly, as RFC 9110 says."""
    match = _versions(headers.getlist(IF_MATCH), weak=False)
    none_match = _versions(headers.getlist(IF_NONE_MATCH), weak=True)
    if match is None and none_match is None:
        return None
    return Precondition(versions_in(wire), match=match, none_match=none_match)


def _versions(values: list[str], weak: bool) -> Versions | None:
    if not values:
        return None
    listed = ",".join(values).strip()
    if listed == "*":
        return Versions(every=True)
    tags = frozenset(tag for is_weak, tag in _ENTITY_TAG.findall(listed) if weak or not is_weak)
    return Versions(tags)
