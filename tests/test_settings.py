"""The settings table (hamr.settings): every setting `hamr config` lists has its variable and
flag in `hamr serve --help` and in docs/settings.md, `hamr config` hides secrets and says where
each value came from, bad values are one line naming the setting; and `--site` (HAMR_SITES),
`--state` and `--faults`: what they accept, and the one line each mistake gets."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from hamr.cli.options import load_serve_settings, settings_markdown
from hamr.settings import SETTINGS, Setting, Settings, SettingsError, Site, parse_sites
from tests.conftest import PYTHON, run_cli

DOCS = Path(__file__).resolve().parent.parent / "docs" / "settings.md"
# What `hamr` sees when nobody set a HAMR_* variable: defaults everywhere.
CLEAN = {name: value for name, value in os.environ.items() if not name.startswith("HAMR_")}
SECRET = "a-secret-nobody-may-see-0123456789"


def hamr(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "hamr", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=CLEAN if env is None else env,
    )


@pytest.fixture(scope="module")
def listed() -> tuple[dict[str, Any], str]:
    """`hamr config --json` and `hamr serve --help` as a user runs them, side by side."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        config, help_ = pool.map(
            lambda args: hamr(*args), [("config", "--json"), ("serve", "--help")]
        )
    assert config.returncode == 0, config.stderr
    assert help_.returncode == 0, help_.stderr
    return json.loads(config.stdout), help_.stdout


def option_blocks(help_text: str) -> dict[str, str]:
    """Each option of a --help screen by its first flag, its lines joined by single spaces."""
    options = help_text.split("Options:", 1)[1]
    blocks = re.split(r"\n(?=  -)", options)
    return {block.split()[0]: " ".join(block.split()) for block in blocks if block.strip()}


def test_serve_help_names_every_setting_with_its_variable_and_default(
    listed: tuple[dict[str, Any], str],
) -> None:
    config, help_text = listed
    blocks = option_blocks(help_text)
    assert len(config) == len(SETTINGS) > 20
    for name, shown in config.items():
        variable = f"HAMR_{name.upper()}"
        naming = [flag for flag, block in blocks.items() if re.search(rf"\b{variable}\b", block)]
        assert len(naming) == 1, f"{variable} is in the help of {naming}, not of one option"
        block = blocks[naming[0]]
        assert shown["source"] == "default"
        if shown["value"]:  # the default, as `hamr config` shows it (long ones wrap at commas)
            assert f"default {shown['value']}" in block.replace(", ", ","), block


def test_docs_settings_md_lists_every_setting_with_its_variable_and_flag(
    listed: tuple[dict[str, Any], str],
) -> None:
    config, help_text = listed
    flags = {
        re.search(r"\bHAMR_\w+", block).group(): flag  # type: ignore[union-attr]
        for flag, block in option_blocks(help_text).items()
        if "HAMR_" in block
    }
    rows = [line for line in DOCS.read_text().splitlines() if line.startswith("| `")]
    for name in config:
        variable = f"HAMR_{name.upper()}"
        row = [line for line in rows if f"`{variable}`" in line]
        assert len(row) == 1, f"docs/settings.md has {len(row)} rows for {variable}"
        assert f"`{flags[variable]}" in row[0], (flags[variable], row[0])


def test_docs_settings_md_is_the_table_generated_from_the_settings() -> None:
    assert DOCS.read_text() == settings_markdown(), (
        "docs/settings.md is stale; regenerate it with python3 -c 'from hamr.cli.options "
        'import settings_markdown; print(settings_markdown(), end="")\' > docs/settings.md'
    )


def test_config_shows_secrets_as_stars_and_where_each_value_came_from() -> None:
    secrets = [setting for setting in SETTINGS if setting.secret]
    assert {setting.name for setting in secrets} == {"admin_token", "session_secret"}
    environment = {
        **CLEAN,
        "HAMR_PORT": "9090",
        "HAMR_SESSION_SECRET": SECRET,
        "HAMR_RATE_LIMIT_STORAGE": f"redis://:{SECRET}@redis.internal:6379/0",
    }
    flags = (
        "--admin-token",
        SECRET,
        "--emulator",
        "--database",
        f"postgresql://hamr:{SECRET}@db/hamr",
    )
    with ThreadPoolExecutor(max_workers=3) as pool:
        as_json, as_text, unset = pool.map(
            lambda args: hamr(*args[1:], env=environment if args[0] else None),
            [
                (True, "config", "--json", *flags),
                (True, "config", *flags),
                (False, "config", "--json"),
            ],
        )
    assert as_json.returncode == as_text.returncode == unset.returncode == 0, as_json.stderr
    for printed in (as_json.stdout, as_text.stdout):
        assert SECRET[:10] not in printed
    shown = json.loads(as_json.stdout)
    assert shown["admin_token"] == {"value": "***", "source": "flag"}
    assert shown["session_secret"] == {"value": "***", "source": "env"}
    assert shown["rate_limit_storage"] == {
        "value": "redis://:***@redis.internal:6379/0",
        "source": "env",
    }
    assert shown["database_url"] == {"value": "postgresql://hamr:***@db/hamr", "source": "flag"}
    assert shown["port"] == {"value": "9090", "source": "env"}
    assert shown["emulator"] == {"value": "on", "source": "flag"}
    given = {"admin_token", "session_secret", "rate_limit_storage", "port", "emulator"}
    assert {name for name, value in shown.items() if value["source"] == "default"} == (
        set(shown) - given - {"database_url"}
    )
    assert re.search(r"^admin_token\s+\*\*\*\s+\(flag\)$", as_text.stdout, re.MULTILINE)
    assert re.search(r"^session_secret\s+\*\*\*\s+\(env\)$", as_text.stdout, re.MULTILINE)
    defaults = json.loads(unset.stdout)
    assert defaults["admin_token"] == {"value": "(generated at start)", "source": "default"}
    assert defaults["session_secret"] == {"value": "(random per process)", "source": "default"}


# Every setting read as a number or a switch: a bad value names the variable it came from.
TYPED = [setting for setting in SETTINGS if setting.type in ("int", "float", "bool")]


@pytest.mark.parametrize("setting", TYPED, ids=[setting.name for setting in TYPED])
def test_a_bad_variable_is_refused_in_one_line_naming_it(setting: Setting) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.load({setting.variable: "lots"})
    expected = "on or off" if setting.type == "bool" else "a number"
    assert str(refused.value) == f"{setting.variable} must be {expected}, not 'lots'"


def test_hamr_refuses_a_bad_variable_in_one_line_with_status_2() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        number, switch = pool.map(
            lambda env: hamr("config", env={**CLEAN, **env}),
            [{"HAMR_MAX_CONNECTIONS": "lots"}, {"HAMR_METRICS": "maybe"}],
        )
    assert (number.returncode, number.stderr.splitlines()) == (
        2,
        ["Error: HAMR_MAX_CONNECTIONS must be a number, not 'lots'"],
    )
    assert (switch.returncode, switch.stderr.splitlines()) == (
        2,
        ["Error: HAMR_METRICS must be on or off, not 'maybe'"],
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"port": 70000}, "port must be between 0 and 65535"),
        ({"metrics_port": -1}, "metrics port must be between 0 and 65535"),
        ({"datacenters": frozenset()}, "datacenters must name at least one datacenter"),
        ({"log_level": "loud"}, "log level must be one of critical, error, warning, info, "
         "debug, not 'loud'"),
        ({"log_format": "xml"}, "log format must be one of json, text, not 'xml'"),
        ({"db_pool_size": 1}, "db pool size must be at least 2 (one reader, one writer)"),
        ({"max_connections": 0}, "max connections must be positive"),
        ({"keep_alive_seconds": 0.0}, "keep alive seconds must be positive"),
        ({"wire": "xml"}, "wire must be one of both, live, contract, not 'xml'"),
        ({"transitions": "x"}, "transitions must be one of off, warn, enforce, not 'x'"),
        ({"admin_token": "short"}, "admin token must be at least 16 characters long"),
        ({"shutdown_grace_seconds": -1}, "shutdown grace seconds must not be negative"),
        ({"rate_limit_storage": "ftp://u:pw@x"}, "rate limit storage must be memory:// or a "
         "redis://host:port URL, not 'ftp://u:***@x'"),
    ],
    ids=lambda value: next(iter(value)) if isinstance(value, dict) else "",
)  # fmt: skip
def test_a_value_that_cannot_be_used_is_refused_naming_the_setting(
    given: dict[str, Any], message: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings(**given)
    assert str(refused.value) == message


def test_settings_are_a_frozen_typed_object_made_from_keywords() -> None:
    settings = Settings(port=0, metrics=False, datacenters=frozenset({"us1"}))
    assert (settings.port, settings.metrics, settings.host) == (0, False, "127.0.0.1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]
    assert Settings.load({}, port=9) == dataclasses.replace(Settings(), port=9)


def test_flags_come_as_click_gives_them_and_override_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HAMR_RATE_LIMITS", "hamr_get=50/10,hamr_post=9/9")
    monkeypatch.setenv("HAMR_DATACENTERS", "us1")
    monkeypatch.setenv("HAMR_PORT", "9000")
    settings, sources = load_serve_settings(
        datacenters="eu1, us1 us3",
        rate_limits=("hamr_post=5/60", "hamr_unauthenticated=off"),
        sites=(),
        port=None,
        metrics=False,
    )
    assert settings.datacenters == frozenset({"eu1", "us1", "us3"})
    assert [str(limit) for limit in settings.rate_limits] == ["hamr_get=50/10", "hamr_post=5/60"]
    assert (settings.sites, settings.port, settings.metrics) == ((), 9000, False)
    assert (sources["datacenters"], sources["rate_limits"], sources["metrics"]) == ("flag",) * 3
    assert (sources["sites"], sources["port"]) == ("default", "env")


# -- sites, and the emulator's start-up files --------------------------------------------------


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
