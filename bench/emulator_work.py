"""The emulator's own work per GET with no fault rules, timed in-process (timeit, best of
several runs), for bench/emulator.py: what `--emulator` does that a plain server does not, in
microseconds.

Per request, `--emulator` adds three things and nothing else: the fault rules' layer
(FaultInjection: with no rules, one test of an empty tuple before passing the request on),
the transport put in the request's scope (hamr.http_protocol.LimitedProtocol: one small dict), and
the rate limiter reading the emulator's clock instead of time.time(). Each is timed here on
the real objects `create_app` builds; set beside the server CPU a GET costs (bench/emulator.py's
`off` lane), this resolves what server-to-server noise cannot."""

from __future__ import annotations

import random
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hamr.bootstrap import create_app
from hamr.emulator.clock import VirtualClock
from hamr.emulator.faults.injection import TRANSPORT_EXTENSION, FaultInjection
from hamr.settings import Settings

REPEATS = 7
NUMBER = 100_000


def best_us(call: Callable[[], object], number: int = NUMBER, repeats: int = REPEATS) -> float:
    """The fastest of `repeats` runs of `number` calls, per call, in microseconds."""
    return min(timeit.repeat(call, number=number, repeat=repeats)) / number * 1e6


async def _served(scope: Any, receive: Any, send: Any) -> None:
    """Stands for the app behind the fault rules: it returns at once, so only the layer's own
    work is timed."""


def _run(coroutine: Any) -> None:
    """Drive a coroutine that never suspends to its end, without an event loop's overhead."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    raise RuntimeError("the timed coroutine suspended")


def measure(number: int = NUMBER, repeats: int = REPEATS) -> dict[str, float]:
    """Microseconds per GET: each thing `--emulator` adds, and their sum; each timing the best
    of `repeats` runs of `number` calls."""

    def best(call: Callable[[], object]) -> float:
        return best_us(call, number, repeats)

    with tempfile.TemporaryDirectory(prefix="hamr-bench-") as scratch:
        settings = Settings(
            database_url=f"sqlite:///{Path(scratch) / 'work.db'}",
            emulator=True,
            admin_token="bench-emulator-admin-token",
        )
        app = create_app(settings)
        try:
            assert app.emulator is not None
            faults = app.emulator.faults
            layer = FaultInjection(_served, app.state, faults, random.Random(0))
            scope = {"type": "http", "method": "GET", "path": "/api/v2/hamr", "headers": []}
            fault_layer = best(lambda: _run(layer(scope, None, None))) - best(
                lambda: _run(_served(scope, None, None))
            )
            transport = object()

            def put_transport() -> None:
                scope["extensions"] = {TRANSPORT_EXTENSION: transport}

            in_scope = best(put_transport)
            emulator_clock = VirtualClock()

            def virtual_seconds() -> float:
                return emulator_clock() / 1_000_000

            clock = best(virtual_seconds) - best(time.time)
        finally:
            app.store.close()
    parts = {"fault_rules": fault_layer, "transport_in_scope": in_scope, "clock": clock}
    return {**parts, "total": sum(max(0.0, value) for value in parts.values())}


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name:>20}: {value:.3f} µs")
