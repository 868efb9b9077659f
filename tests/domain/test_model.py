"""The pure parts of the model: timestamps and the partner rules."""

from __future__ import annotations

from hamr.domain.model import Org, format_timestamp, next_modified_at
from hamr.domain.rules import DEFAULT_DATACENTERS, connection_violations

PARTNER = "660f9511-f3ac-52e5-b827-557766551111"
CALLER = Org("550e8400-e29b-41d4-a716-446655440000", "Production Org", "us1")
DATACENTERS = frozenset(DEFAULT_DATACENTERS)


def test_timestamps_are_rfc3339_utc_with_microseconds_and_z() -> None:
    assert format_timestamp(1_768_325_208_830_968) == "2026-01-13T17:26:48.830968Z"
    assert format_timestamp(0) == "1970-01-01T00:00:00.000000Z"
    assert format_timestamp(1_000_001) == "1970-01-01T00:00:01.000001Z"


def test_modified_at_moves_forward_even_when_the_clock_does_not() -> None:
    assert next_modified_at(100, None) == 100
    assert next_modified_at(100, 50) == 100
    assert next_modified_at(100, 100) == 101
    assert next_modified_at(90, 100) == 101


def test_a_valid_partner_breaks_no_rule() -> None:
    attributes = {
        "target_org_uuid": "660F9511-F3AC-52E5-B827-557766551111",
        "target_org_datacenter": "eu1",
    }
    assert connection_violations(attributes, CALLER, DATACENTERS) == []


def test_each_partner_rule_names_its_field() -> None:
    cases = {
        ("not-a-uuid", "eu1"): ["/data/attributes/target_org_uuid"],
        (CALLER.uuid.upper(), "eu1"): ["/data/attributes/target_org_uuid"],
        (PARTNER, "mars"): ["/data/attributes/target_org_datacenter"],
        (PARTNER, "us1"): ["/data/attributes/target_org_datacenter"],
        ("nope", "us1"): [
            "/data/attributes/target_org_uuid",
            "/data/attributes/target_org_datacenter",
        ],
    }
    for (target_uuid, target_dc), pointers in cases.items():
        attributes = {"target_org_uuid": target_uuid, "target_org_datacenter": target_dc}
        violations = connection_violations(attributes, CALLER, DATACENTERS)
        assert [v.pointer for v in violations] == pointers
        assert all(v.detail for v in violations)


def test_values_of_the_wrong_type_are_left_to_the_schema() -> None:
    attributes = {"target_org_uuid": 42, "target_org_datacenter": None}
    assert connection_violations(attributes, CALLER, DATACENTERS) == []
