"""Credentials: how they are made, and the only form in which they are kept (a hash)."""

from __future__ import annotations

import hashlib
import secrets

from hamr.domain.model import KeyKind

TOKEN_PREFIX = "hamr_"  # noqa: S105 (a public prefix, not a secret)


def generate_secret(kind: KeyKind) -> str:
    """API keys are 32 lowercase hex characters and application keys 40, as Datadog's are;
    tokens carry a prefix so that secret scanners can recognise them."""
    if kind is KeyKind.API:
        return secrets.token_hex(16)
    if kind is KeyKind.APP:
        return secrets.token_hex(20)
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """SHA-256 suffices: the secrets are random and long, so there is nothing to brute-force."""
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()
