"""The emulator's virtual clock: real time, shifted when a test asks (`POST /_hamr/clock`), so
that `modified_at`, idempotency-key expiry and a pair's `stuck` health can be tested without
waiting. It keeps running from where it was put; `real()` puts it back."""

from __future__ import annotations

import threading
from collections.abc import Callable

from hamr.usecases.clock import system_clock_us


class VirtualClock:
    def __init__(self, source: Callable[[], int] = system_clock_us):
        self._source = source
        self._offset_us = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        """Microseconds since the epoch, as hamr believes them."""
        return self._source() + self._offset_us

    @property
    def offset_us(self) -> int:
        return self._offset_us

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset_us += round(seconds * 1_000_000)

    def set(self, at_us: int) -> None:
        with self._lock:
            self._offset_us = at_us - self._source()

    def real(self) -> None:
        with self._lock:
            self._offset_us = 0
