"""Datadog's documented Python example for GET /api/v2/hamr (python/get_hamr_org_connection.py)
and the POST request written the same way (python/create_hamr_org_connection.py), run as the
page says, `python3 example.py` with DD_API_KEY and DD_APP_KEY set, against hamr as the host.

The examples print what the official client returns (its `pformat`ted dict, read back here with
`ast.literal_eval`) and, on an error status, end with the client's exception and its parsed body.

With hamr's default `both`, the client reads the documented attributes into its model and keeps
the live API's beside them as additional properties; it turns the live ModifiedAt into a
datetime, which it prints to the millisecond (`2026-05-28T16:34:21.636Z`). With
`--wire contract`, it prints exactly the documented response.
"""

from __future__ import annotations

import ast
import copy
import secrets
import subprocess
from datetime import datetime
from typing import Any

import pytest
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.v2.api.high_availability_multi_region_api import (
    HighAvailabilityMultiRegionApi,
)
from datadog_api_client.v2.model.hamr_org_connection_status import HamrOrgConnectionStatus

from tests.clients.conftest import (
    CLIENTS,
    GET_PAGE,
    LIVE_ORDER,
    SEED_ATTRIBUTES,
    SEED_ORG_UUID,
    WIRES,
    SeedHamr,
    assert_documented_connection_stored,
    code_lines,
    fenced_blocks,
    live_attributes,
    replace_once,
    run_python_example,
    seed_page,
)

GET_EXAMPLE = "get_hamr_org_connection.py"
CREATE_EXAMPLE = "create_hamr_org_connection.py"


def printed(result: subprocess.CompletedProcess[str]) -> Any:
    """What a successful example printed: the response, as the client's dict."""
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return ast.literal_eval(result.stdout)


def as_printed(document: dict[str, Any]) -> dict[str, Any]:
    """A response document as the example prints it: a live ModifiedAt (no zone) becomes a
    naive datetime in the client, printed with milliseconds and a Z."""
    printed = copy.deepcopy(document)
    attributes = printed["data"]["attributes"]
    if "ModifiedAt" in attributes:
        parsed = datetime.strptime(attributes["ModifiedAt"], "%Y-%m-%d %H:%M:%S.%f")
        attributes["ModifiedAt"] = parsed.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return printed


def raised(result: subprocess.CompletedProcess[str], exception: str, status: int) -> Any:
    """The error body of the client's exception an example died with, as the client parsed it."""
    assert result.returncode != 0, result.stdout
    assert result.stdout == ""
    assert f"datadog_api_client.exceptions.{exception}: ({status})" in result.stderr, result.stderr
    body_lines = [
        line.removeprefix("HTTP response body: ")
        for line in result.stderr.splitlines()
        if line.startswith("HTTP response body: ")
    ]
    assert len(body_lines) == 1, result.stderr
    return ast.literal_eval(body_lines[0])


def test_get_example_is_the_seeds_code_but_for_the_host() -> None:
    (seed,) = fenced_blocks(seed_page(GET_PAGE), "python")
    expected = replace_once(
        seed,
        "from datadog_api_client import ApiClient, Configuration\n",
        "import os\n\nfrom datadog_api_client import ApiClient, Configuration\n",
    )
    expected = replace_once(
        expected,
        "configuration = Configuration()\n",
        'configuration = Configuration(host=os.environ["HAMR_URL"])\n',
    )
    example = (CLIENTS / "python" / GET_EXAMPLE).read_text()
    assert code_lines(example, "#") == code_lines(expected, "#")


@pytest.mark.parametrize("wire", WIRES)
def test_get_example_prints_the_documented_connection(seed_hamr: SeedHamr, wire: str) -> None:
    seed = seed_hamr.on(wire)
    modified_at = seed.post_documented_body().json()["data"]["attributes"]["modified_at"]

    response = printed(run_python_example(GET_EXAMPLE, seed.env()))

    assert response == as_printed(seed.expected(modified_at))
    assert response == as_printed(seed.get().json())


def test_the_client_keeps_the_live_attributes_with_their_values(seed_hamr: SeedHamr) -> None:
    """What the GET example's `response` holds before it is printed (the same call, made
    here): the documented attributes as the model's, and the live API's eight as additional
    properties, ModifiedAt to the microsecond."""
    modified_at = seed_hamr.post_documented_body().json()["data"]["attributes"]["modified_at"]
    configuration = Configuration(host=seed_hamr.server.url)
    configuration.api_key["apiKeyAuth"] = seed_hamr.org.api_key
    configuration.api_key["appKeyAuth"] = seed_hamr.org.app_key
    configuration.unstable_operations["get_hamr_org_connection"] = True

    with ApiClient(configuration) as api_client:
        response = HighAvailabilityMultiRegionApi(api_client).get_hamr_org_connection()

    assert response.data.id == SEED_ORG_UUID
    attributes = response.data.attributes
    assert attributes.hamr_status == HamrOrgConnectionStatus.ACTIVE
    assert attributes.modified_at == modified_at
    documented = {name: value for name, value in SEED_ATTRIBUTES.items() if name != "hamr_status"}
    assert {name: getattr(attributes, name) for name in documented} == documented
    expected = live_attributes(modified_at)
    expected["ModifiedAt"] = datetime.strptime(expected["ModifiedAt"], "%Y-%m-%d %H:%M:%S.%f")
    assert {name: attributes[name] for name in LIVE_ORDER} == expected


def test_get_example_before_any_post_is_the_documented_404(seed_hamr: SeedHamr) -> None:
    """An organization without a connection: the client raises NotFoundException."""
    stranger = seed_hamr.stranger

    body = raised(
        run_python_example(GET_EXAMPLE, seed_hamr.env(stranger)), "NotFoundException", 404
    )

    assert body == seed_hamr.get(stranger).json()
    (error,) = body["errors"]
    assert error["status"] == "404"
    assert error["title"] == "Not Found"
    assert stranger.uuid in error["detail"]
    assert seed_hamr.admin.connection(stranger.uuid) is None


def test_get_example_with_unknown_keys_is_the_documented_403(seed_hamr: SeedHamr) -> None:
    env = {
        **seed_hamr.env(),
        "DD_API_KEY": secrets.token_hex(16),
        "DD_APP_KEY": secrets.token_hex(20),
    }

    body = raised(run_python_example(GET_EXAMPLE, env), "ForbiddenException", 403)

    (error,) = body["errors"]
    assert error["status"] == "403"
    assert error["title"] == "Forbidden"
    assert error["source"]["header"] in {"DD-API-KEY", "DD-APPLICATION-KEY"}


@pytest.mark.parametrize("wire", WIRES)
def test_create_example_stores_the_documented_connection(seed_hamr: SeedHamr, wire: str) -> None:
    seed = seed_hamr.on(wire)
    history_before = len(seed.admin.history(SEED_ORG_UUID))

    response = printed(run_python_example(CREATE_EXAMPLE, seed.env()))

    modified_at = response["data"]["attributes"]["modified_at"]
    assert response == as_printed(seed.expected(modified_at))
    assert_documented_connection_stored(seed, history_before, modified_at)


def test_create_example_from_another_org_is_a_403_and_changes_nothing(
    seed_hamr: SeedHamr,
) -> None:
    """The documented body names 550e8400-… as `data.id`; another org's keys may not write it."""
    stranger = seed_hamr.stranger
    before = seed_hamr.admin.snapshot(SEED_ORG_UUID), seed_hamr.admin.snapshot(stranger.uuid)

    body = raised(
        run_python_example(CREATE_EXAMPLE, seed_hamr.env(stranger)), "ForbiddenException", 403
    )

    (error,) = body["errors"]
    assert error["status"] == "403"
    assert error["source"] == {"pointer": "/data/id"}
    after = seed_hamr.admin.snapshot(SEED_ORG_UUID), seed_hamr.admin.snapshot(stranger.uuid)
    assert after == before
