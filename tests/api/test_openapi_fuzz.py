"""Schemathesis on the routes /openapi.json describes beyond the contract's two operations:
the pair (`GET /api/v2/hamr/pair`, `POST /api/v2/hamr/pair/{operation}`) and the history,
against a real `hamr serve --emulator` with the demo pair, driven by the document that server
publishes. Few examples (`HAMR_FUZZ_EXAMPLES_EXTENSIONS`, default 10), a fixed seed: the
contract's own fuzzing (tests/contract) is the long run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis

from tests import local_http
from tests.conftest import ADMIN, EmulatorServer, sqlite_url

EXAMPLES = int(os.environ.get("HAMR_FUZZ_EXAMPLES_EXTENSIONS", "10"))
PATHS = r"^/api/v2/hamr/(pair(/\{operation\})?|history)$"
# A valid request is answered, or refused for where the pair stands (409), or for an
# Idempotency-Key first sent with another body (422); an invalid one is a 400, or a 404 for a
# path naming no operation.
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 20261206,
        "suppress-health-check": ["all"],
        "generation": {
            "mode": "all",
            "max-examples": EXAMPLES,
            "deterministic": True,
            "database": "none",
            "with-security-parameters": False,
        },
        "checks": {
            "enabled": True,
            "positive_data_acceptance": {"expected-statuses": ["200", "409", "422"]},
            "negative_data_rejection": {"expected-statuses": ["400", "404", "409", "422"]},
            "max_response_time": 10.0,
        },
    }
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmulatorServer, Any]]:
    """An emulator with the demo pair, and its primary org's keys."""
    folder = tmp_path_factory.mktemp("openapi-fuzz")
    running = EmulatorServer(sqlite_url(folder / "hamr.db"), folder / "server.log").start()
    reset = local_http.post(f"{running.url}/_hamr/reset", json={"seed": "demo"}, headers=ADMIN)
    org = reset.json()["data"]["attributes"]["orgs"][0]
    yield running, {"DD-API-KEY": org["api_key"], "DD-APPLICATION-KEY": org["app_key"]}
    running.stop()


@pytest.fixture(scope="module")
def published(demo: tuple[EmulatorServer, Any]) -> Any:
    """The document the emulator serves."""
    document = local_http.get(f"{demo[0].url}/openapi.json", timeout=10).json()
    return schemathesis.openapi.from_dict(document, config=CONFIG)


schema = schemathesis.pytest.from_fixture("published").include(path_regex=PATHS)


@schema.parametrize()
def test_pair_and_history_routes_answer_as_documented(
    case: schemathesis.Case[Any], demo: tuple[EmulatorServer, Any]
) -> None:
    server, keys = demo
    response = case.call_and_validate(base_url=server.url, headers=keys)
    assert response.status_code < 500, response.text
