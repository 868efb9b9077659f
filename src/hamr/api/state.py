"""What one application instance holds for its lifetime, built by the factory."""

from __future__ import annotations

from dataclasses import dataclass

from hamr.api.metrics import Metrics
from hamr.api.ratelimit import RateLimiter
from hamr.api.schemas import DocumentCache
from hamr.api.wire import WireFormat
from hamr.api.writer import GroupCommitWriter
from hamr.emulator import Emulator
from hamr.service import HamrService
from hamr.settings import Settings
from hamr.store.sql import SqlStore


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    store: SqlStore
    service: HamrService
    writer: GroupCommitWriter
    wire: WireFormat
    documents: DocumentCache
    openapi: bytes
    limiter: RateLimiter
    metrics: Metrics | None
    emulator: Emulator | None = None  # `hamr serve --emulator` only
