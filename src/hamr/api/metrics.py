"""Prometheus metrics: one registry per application, never the process-global one, so that tests
and embedders can build as many apps as they like.

A request only leaves its facts in a queue; they are applied to the counters and the histogram
in batches, `FLUSH_SECONDS` after a batch's first (telemetry.py's `Batches`) and whenever the
registry is collected, so a scrape counts every answered request. prometheus-client takes a lock
per increment and searches the buckets in Python: between two requests' network I/O, with cold
caches, that cost a GET several times what it costs in a batch.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, start_wsgi_server
from prometheus_client.registry import Collector

from hamr.domain.errors import Unavailable
from hamr.domain.model import HamrStatus, Move
from hamr.usecases.service import HamrService

logger = logging.getLogger(__name__)

CONTENT_TYPE = CONTENT_TYPE_LATEST
# The API answers in well under a millisecond when cached and a few when it writes.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _FlushingRegistry(CollectorRegistry):
    """A registry that brings the request metrics up to date before every collection, by
    whichever thread collects (the app's /metrics, or the server on a port of its own)."""

    def __init__(self, flush: Callable[[], None]):
        super().__init__()
        self._flush = flush

    def collect(self) -> Iterable[Metric]:
        self._flush()
        return super().collect()


class Metrics:
    """The server's counters and histograms, plus stored state counted at scrape time."""

    def __init__(self, service: HamrService, routes: frozenset[str], site: str = ""):
        # Appended on the event loop, drained by any thread: deque's append and popleft are
        # atomic.
        self._observed: deque[tuple[str, str, int, float]] = deque()
        self.registry = _FlushingRegistry(self.flush)
        self._routes = routes
        self._site = site  # `--datacenter`, labelling what the site's own node is
        self._requests = Counter(
            "hamr_http_requests",
            "HTTP requests answered, by route, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self._latency = Histogram(
            "hamr_http_request_duration_seconds",
            "Time from request to the end of the response, by route and method.",
            ["route", "method"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._auth_failures = Counter(
            "hamr_auth_failures",
            "Requests refused for their credentials, by the header at fault.",
            ["header"],
            registry=self.registry,
        )
        self._rate_limited = Counter(
            "hamr_rate_limited_requests",
            "Requests refused with 429, by rate limit bucket.",
            ["bucket"],
            registry=self.registry,
        )
        self._transitions = Counter(
            "hamr_transitions",
            "Status moves asked for, by status before and after and the policy's verdict "
            "(allowed, warned, refused, overridden).",
            ["from", "to", "verdict"],
            registry=self.registry,
        )
        self._outcome_unknown = Counter(
            "hamr_writes_outcome_unknown",
            "Writes answered 503 because their COMMIT's outcome is unknown (the connection was "
            "lost during it, or its copy to a synchronous standby was cut short).",
            registry=self.registry,
        )
        self._replica_lag = Gauge(
            "hamr_replica_lag_seconds",
            "How old the site's own node's copy may be (--read-database); -1 when unknown.",
            registry=self.registry,
        )
        self._database_role = Gauge(
            "hamr_database_role",
            "1 for the role the site's own node (--read-database) has now: leader, replica "
            "or unknown (it does not answer).",
            ["site", "role"],
            registry=self.registry,
        )
        self._pair_operations = Counter(
            "hamr_pair_operations",
            "Pair operations asked for, by operation and outcome (done, held, dry_run, refused).",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.registry.register(StoredStateCollector(service))
        self.registry.register(CacheCollector(service))
        # Label lookups cost more than the increments; keep the children.
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe_request(self, path: str, method: str, status: int, seconds: float) -> None:
        self._observed.append((path, method, status, seconds))

    def flush(self) -> None:
        """Apply the requests observed since the last flush."""
        observed = self._observed
        while observed:
            path, method, status, seconds = observed.popleft()
            key = (path, method, status)
            children = self._request_children.get(key)
            if children is None:
                route = path if path in self._routes else "unmatched"
                children = (
                    self._requests.labels(route, method, str(status)),
                    self._latency.labels(route, method),
                )
                if route != "unmatched":  # unknown paths are many: keep no entry per path
                    self._request_children[key] = children
            children[0].inc()
            children[1].observe(seconds)

    def auth_failed(self, header: str | None) -> None:
        self._auth_failures.labels(header or "unknown").inc()

    def transition(self, move: Move) -> None:
        before = "none" if move.current is None else move.current.name
        self._transitions.labels(before, move.asked.name, move.verdict.value).inc()

    def replica_observed(self, role: str, staleness_seconds: float | None) -> None:
        self._replica_lag.set(-1 if staleness_seconds is None else staleness_seconds)
        for each in ("leader", "replica", "unknown"):
            self._database_role.labels(self._site, each).set(1 if each == role else 0)

    def write_outcome_unknown(self) -> None:
        self._outcome_unknown.inc()

    def pair_operation(self, operation: str, outcome: str) -> None:
        self._pair_operations.labels(operation, outcome).inc()

    def rate_limited(self, bucket: str) -> None:
        self._rate_limited.labels(bucket).inc()

    def exposition(self) -> bytes:
        """The text format (blocking: counts stored state; call from a worker thread)."""
        return generate_latest(self.registry)

    def serve_apart(self, host: str, port: int) -> WSGIServer:
        """Serve /metrics on a port of its own, in a daemon thread."""
        server, _thread = start_wsgi_server(port, addr=host, registry=self.registry)
        return server


class CacheCollector(Collector):
    """What the in-memory caches did, read from their counters when scraped."""

    def __init__(self, service: HamrService):
        self._service = service

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "hamr_cache_requests",
            "Lookups of the in-memory caches, by cache and whether memory answered.",
            labels=["cache", "result"],
        )
        for name, cache in (
            ("connections", self._service.connections),
            ("credentials", self._service.credentials),
        ):
            requests.add_metric([name, "hit"], cache.hits)
            requests.add_metric([name, "miss"], cache.misses)
        yield requests


class StoredStateCollector(Collector):
    """Connections by status and history rows, read from storage when scraped."""

    def __init__(self, service: HamrService):
        self._service = service

    def collect(self) -> Iterator[Metric]:
        try:
            statistics = self._service.statistics()
        except Unavailable:
            logger.warning("cannot count stored state for metrics: the database is unreachable")
            return
        connections = GaugeMetricFamily(
            "hamr_connections", "Stored HAMR connections, by status.", labels=["hamr_status"]
        )
        for status in HamrStatus:
            count = statistics.connections_by_status.get(status, 0)
            connections.add_metric([status.name], count)
        yield connections
        yield GaugeMetricFamily(
            "hamr_history_rows", "Accepted changes recorded in history.", statistics.history_rows
        )
