"""The emulator's use cases, for test suites: start over (empty, or the demo pair with fresh
keys) and move the clock. Only `hamr serve --emulator` builds one."""

from __future__ import annotations

import logging
from enum import StrEnum

from hamr.clock import EmulatorClock
from hamr.demo import DemoOrg, ensure_demo
from hamr.service import HamrService

logger = logging.getLogger(__name__)


class Seed(StrEnum):
    EMPTY = "empty"
    DEMO = "demo"


class Emulator:
    def __init__(self, service: HamrService, clock: EmulatorClock):
        self.service = service
        self.clock = clock

    def reset(self, seed: Seed) -> list[DemoOrg]:
        """Delete everything stored, then seed it; the demo pair's keys are returned (each
        reset issues new ones). Blocking: call from a worker thread."""
        self.service.wipe()
        seeded = ensure_demo(self.service) if seed is Seed.DEMO else []
        logger.info("emulator reset", extra={"seed": seed.value})
        return seeded
