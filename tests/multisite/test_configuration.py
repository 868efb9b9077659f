"""The configuration docs/multi-site.md prints is the lab's own, and says what issue 27 asks:
an acknowledged write on two sites, the quickest promotion Patroni allows, no failsafe."""

from __future__ import annotations

import string
from typing import Any

import yaml

from tests import docs

DEPLOY = docs.ROOT / "deploy" / "multi-site"


def rendered(name: str) -> Any:
    """A template with every placeholder filled with its own name."""
    template = string.Template((DEPLOY / name).read_text())
    return yaml.safe_load(template.substitute({k: k for k in template.get_identifiers()}))


def test_the_documented_files_are_the_labs() -> None:
    documented = {
        "etcd.yml": docs.block("docs/multi-site.md", "deploy/multi-site/etcd.yml", 0),
        "patroni.yml": docs.block("docs/multi-site.md", "deploy/multi-site/patroni.yml", 0),
    }
    for name, text in documented.items():
        assert text == (DEPLOY / name).read_text(), f"docs/multi-site.md's {name} is not the lab's"


def test_an_acknowledged_write_is_on_two_sites_and_failover_is_patronis_quickest() -> None:
    dcs = rendered("patroni.yml")["bootstrap"]["dcs"]
    assert dcs["synchronous_mode"] is True
    assert dcs["synchronous_node_count"] == 1
    assert dcs["postgresql"]["parameters"]["synchronous_commit"] == "on"
    assert dcs["failsafe_mode"] is False
    assert dcs["postgresql"]["use_pg_rewind"] is True
    assert dcs["ttl"] == 20
    assert dcs["loop_wait"] + 2 * dcs["retry_timeout"] <= dcs["ttl"]
    assert "maximum_lag_on_failover" not in dcs  # Patroni's default
    etcd = rendered("etcd.yml")
    assert etcd["enable-grpc-gateway"] is True  # Patroni's etcd3 client speaks HTTP
