"""/healthz, /readyz and /metrics on a real server: no keys needed, Prometheus' text format, and
figures that follow what the server did and what the database holds."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hamr.store.sql import open_store
from tests import local_http
from tests.conftest import (
    Admin,
    OrgKeys,
    ServeProcess,
    connection_body,
    free_port,
    sqlite_url,
    unknown_org,
)

PATH = "/api/v2/hamr"


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[tuple[Admin, Path]]:
    """A database of the test's own, so that stored-state gauges are exact."""
    database = tmp_path / "hamr.db"
    store = open_store(sqlite_url(database))
    yield Admin(store), database
    store.close()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition, by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_health_and_readiness_need_no_keys(server: ServeProcess) -> None:
    healthz = local_http.get(server.url + "/healthz")
    assert healthz.status_code == 200
    assert healthz.headers["content-type"] == "application/json"
    assert healthz.json() == {"status": "ok"}
    readyz = local_http.get(server.url + "/readyz")
    assert readyz.status_code == 200
    assert readyz.json() == {
        "status": "ready",
        "checks": {"database": "ok", "rate_limit_storage": "ok"},
    }


def test_readiness_fails_when_the_schema_is_not_this_hamrs(
    fresh: tuple[Admin, Path], tmp_path: Path
) -> None:
    _admin, database = fresh
    server = ServeProcess(sqlite_url(database), tmp_path / "server.log").start()
    try:
        with contextlib.closing(sqlite3.connect(database)) as connection, connection:
            connection.execute("UPDATE alembic_version SET version_num = 'f00dfeed'")
        readyz = local_http.get(server.url + "/readyz")
        assert readyz.status_code == 503
        assert readyz.json()["status"] == "unavailable"
        assert "hamr db upgrade" in readyz.json()["checks"]["database"]
        assert local_http.get(server.url + "/healthz").status_code == 200
    finally:
        server.stop()


def test_metrics_count_requests_failures_limits_and_stored_state(
    fresh: tuple[Admin, Path], tmp_path: Path
) -> None:
    admin, database = fresh
    org, partner, idle = admin.create_org("us1"), admin.create_org("eu1"), admin.create_org("us1")
    loner = admin.create_org("us5")  # names an organization hamr does not know
    server = ServeProcess(
        sqlite_url(database), tmp_path / "server.log", "--rate-limit", "hamr_get=3/3600"
    ).start()
    try:
        with local_http.client(base_url=server.url, timeout=10) as client:
            assert client.get(PATH, headers=org.headers).status_code == 404
            for status in (1, 2, 4):
                body = connection_body(org, partner, hamr_status=status)
                assert client.post(PATH, json=body, headers=org.headers).status_code == 200
            # The partner writes the pair's one connection from its side: still one connection.
            body = connection_body(partner, org, hamr_status=2, is_primary=False)
            assert client.post(PATH, json=body, headers=partner.headers).status_code == 200
            body = connection_body(loner, unknown_org(), hamr_status=4)
            assert client.post(PATH, json=body, headers=loner.headers).status_code == 200
            malformed = {**org.headers, "Content-Type": "application/json"}
            assert client.post(PATH, content=b"{", headers=malformed).status_code == 400
            assert client.get(PATH, headers={"DD-API-KEY": "0" * 32}).status_code == 403
            assert client.get(PATH).status_code == 403
            bad_app_key = {"DD-API-KEY": idle.api_key, "DD-APPLICATION-KEY": "0" * 40}
            assert client.get(PATH, headers=bad_app_key).status_code == 403
            assert [client.get(PATH, headers=org.headers).status_code for _ in range(3)] == [
                200,
                200,
                429,
            ]
            assert client.get("/nowhere").status_code == 404
            metrics = client.get("/metrics")
    finally:
        server.stop()

    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain; version=")
    found = samples(metrics.text)

    def requests(route: str, method: str, status: int) -> float:
        labels = (("method", method), ("route", route), ("status", str(status)))
        return found.get(("hamr_http_requests_total", labels), 0.0)

    assert requests(PATH, "GET", 404) == 1
    assert requests(PATH, "GET", 200) == 2
    assert requests(PATH, "GET", 429) == 1
    assert requests(PATH, "GET", 403) == 3
    assert requests(PATH, "POST", 200) == 5
    assert requests(PATH, "POST", 400) == 1
    # Unknown paths share one label, so that scanners cannot blow up the series count.
    assert requests("unmatched", "GET", 404) == 1
    latency = (("method", "POST"), ("route", PATH))
    assert found[("hamr_http_request_duration_seconds_count", latency)] == 6
    assert found[("hamr_http_request_duration_seconds_bucket", (("le", "+Inf"), *latency))] == 6
    assert found[("hamr_auth_failures_total", (("header", "DD-API-KEY"),))] == 2
    assert found[("hamr_auth_failures_total", (("header", "DD-APPLICATION-KEY"),))] == 1
    assert found[("hamr_rate_limited_requests_total", (("bucket", "hamr_get"),))] == 1
    by_status = {
        dict(labels)["hamr_status"]: value
        for (name, labels), value in found.items()
        if name == "hamr_connections"
    }
    # Connections are counted per pair: org and partner share one, PASSIVE since the partner's
    # write; the loner's one-sided connection is the ACTIVE one.
    assert by_status == {
        "UNSPECIFIED": 0,
        "ONBOARDING": 0,
        "PASSIVE": 1,
        "FAILOVER": 0,
        "ACTIVE": 1,
        "RECOVERY": 0,
    }
    assert found[("hamr_history_rows", ())] == 5


def test_metrics_can_be_turned_off(fresh: tuple[Admin, Path], tmp_path: Path) -> None:
    _admin, database = fresh
    server = ServeProcess(sqlite_url(database), tmp_path / "server.log", "--no-metrics").start()
    try:
        response = local_http.get(server.url + "/metrics")
        assert response.status_code == 404
        assert response.json()["errors"][0]["status"] == "404"
    finally:
        server.stop()


def test_metrics_can_move_to_their_own_port(fresh: tuple[Admin, Path], tmp_path: Path) -> None:
    admin, database = fresh
    org = admin.create_org("us1")
    metrics_port = free_port()
    server = ServeProcess(
        sqlite_url(database), tmp_path / "server.log", "--metrics-port", str(metrics_port)
    ).start()
    try:
        assert local_http.get(server.url + PATH, headers=org.headers).status_code == 404
        assert local_http.get(server.url + "/metrics").status_code == 404
        apart = local_http.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert apart.status_code == 200
        found = samples(apart.text)
        labels = (("method", "GET"), ("route", PATH), ("status", "404"))
        assert found[("hamr_http_requests_total", labels)] == 1
    finally:
        server.stop()
    assert "Traceback" not in server.log()


def test_every_probe_and_metrics_answer_with_a_request_id(
    server: ServeProcess, org: OrgKeys
) -> None:
    for path in ("/healthz", "/readyz", "/metrics", PATH, "/openapi.json"):
        response = local_http.get(server.url + path, headers=org.headers)
        assert len(response.headers["x-request-id"]) == 32, path
