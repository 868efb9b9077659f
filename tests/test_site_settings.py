"""`--site DATACENTER=HOST:PORT` (and HAMR_SITES), `--state` and `--faults`: what they accept,
and the one line each mistake gets."""

from __future__ import annotations

import json

import pytest

from hamr.settings import Settings, SettingsError, Site, parse_sites
from tests.conftest import run_cli


def test_sites_are_read_from_repeated_flags_or_one_comma_separated_variable() -> None:
    assert parse_sites(["eu1=127.0.0.1:8081", "us5.prod.dog=[::1]:8082"]) == (
        Site("eu1", "127.0.0.1", 8081),
        Site("us5", "::1", 8082),
    )
    loaded = Settings.load({"HAMR_SITES": "eu1=127.0.0.1:8081, us1=localhost:8082"})
    assert [str(site) for site in loaded.sites] == ["eu1=127.0.0.1:8081", "us1=localhost:8082"]
    assert str(Site("us5", "::1", 8082)) == "us5=[::1]:8082"


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["eu1"], "must look like DATACENTER=HOST:PORT"),
        (["eu1=127.0.0.1"], "must look like DATACENTER=HOST:PORT"),
        (["mars1=127.0.0.1:8081"], "names datacenter 'mars1', which is not one of"),
        (["eu1=127.0.0.1:8081", "eu1=127.0.0.1:8082"], "'eu1' has more than one site"),
        (["eu1=127.0.0.1:8081", "us1=127.0.0.2:8081"], "needs a port of its own"),
        (["eu1=127.0.0.1:8080"], "needs a port of its own; 8080 is already hamr's"),
        (["eu1=127.0.0.1:0"], "needs a port between 1 and 65535"),
    ],
)
def test_a_site_that_cannot_be_served_is_refused_naming_it(specs: list[str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings(sites=parse_sites(specs))


@pytest.mark.parametrize("name", ["state_file", "faults_file"])
def test_scenario_files_need_the_emulator(name: str) -> None:
    with pytest.raises(SettingsError, match=f"{name.replace('_', ' ')} needs the emulator"):
        Settings(**{name: "drill.json"})  # type: ignore[arg-type]
    assert getattr(Settings(emulator=True, **{name: "drill.json"}), name) == "drill.json"  # type: ignore[arg-type]


def test_hamr_config_shows_the_sites_and_serve_refuses_a_bad_one_in_one_line() -> None:
    shown = run_cli("config", "--json", "--site", "eu1=127.0.0.1:8081", "--site", "us1=[::1]:9")
    assert shown.returncode == 0, shown.stderr
    sites = json.loads(shown.stdout)["sites"]
    assert sites == {"value": "eu1=127.0.0.1:8081,us1=[::1]:9", "source": "flag"}
    refused = run_cli("serve", "--site", "eu1:8081")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "Error: site 'eu1:8081' must look like DATACENTER=HOST:PORT (e.g. eu1=127.0.0.1:8081)"
    ]
