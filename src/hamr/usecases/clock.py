"""Time for the service: microseconds since the epoch, from the system unless a clock is
injected (the emulator's virtual clock, or a test's)."""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], int]


def system_clock_us() -> int:
    return time.time_ns() // 1000
