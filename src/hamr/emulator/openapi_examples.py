"""The examples /openapi.json gives for the emulator's admin API, copied from a real
`hamr serve --emulator` just after `POST /_hamr/reset {"seed": "demo"}`: its answers, and the
state document it then gave, which PUT takes back as it is.
tests/api/test_openapi_examples.py sends each request and checks the answer has this shape."""

from __future__ import annotations

from typing import Any

from hamr.api.openapi_examples import BACKUP_UUID, PRODUCTION_UUID

RESET_REQUEST: dict[str, Any] = {"seed": "demo"}
RESET_ANSWER: dict[str, Any] = {
    "data": {
        "type": "hamr_emulator_reset",
        "id": "reset",
        "attributes": {
            "seed": "demo",
            "orgs": [
                {
                    "uuid": PRODUCTION_UUID,
                    "name": "Production Org",
                    "datacenter": "eu1",
                    "api_key": "5cd5df414ef84ef20e2e7b76872efae5",
                    "app_key": "5b0c9d5a8bd996f9f37f6386b872f411cc2a4161",
                },
                {
                    "uuid": BACKUP_UUID,
                    "name": "Production Backup Org",
                    "datacenter": "us1",
                    "api_key": "dbf49d40ad9578e7854661c939727c78",
                    "app_key": "53cfe2c1961544aaa5ec888a1b2c1cfe6f31372a",
                },
            ],
        },
    }
}
CLOCK_REQUEST: dict[str, Any] = {"advance_seconds": 60}
CLOCK_ANSWER: dict[str, Any] = {
    "data": {
        "type": "hamr_emulator_clock",
        "id": "clock",
        "attributes": {"now": "2026-12-06T12:43:56.514121Z", "offset_seconds": 60.0, "real": False},
    }
}
FAULT_REQUEST: dict[str, Any] = {
    "method": "POST",
    "path": "/api/v2/hamr",
    "status": 503,
    "retry_after": 2,
    "times": 1,
}
FAULT_RULE: dict[str, Any] = {
    "type": "hamr_fault_rule",
    "id": "rule-1",
    "attributes": {
        "method": "POST",
        "path": "/api/v2/hamr",
        "probability": 1,
        "times": 1,
        "status": 503,
        "retry_after": 2,
        "fired": 0,
    },
}
FAULT_ANSWER: dict[str, Any] = {"data": FAULT_RULE}
FAULTS_ANSWER: dict[str, Any] = {"data": [FAULT_RULE]}
CLEARED_ANSWER: dict[str, Any] = {"meta": {"cleared": 1}}
PAIR_MOVE_REQUEST: dict[str, Any] = {"status": "PASSIVE", "primary": PRODUCTION_UUID}
STATE: dict[str, Any] = {
    "data": {
        "type": "hamr_emulator_state",
        "id": "state",
        "attributes": {
            "format": 1,
            "orgs": [
                {
                    "uuid": PRODUCTION_UUID,
                    "name": "Production Org",
                    "datacenter": "eu1",
                    "created_at_us": 1796561136151594,
                },
                {
                    "uuid": BACKUP_UUID,
                    "name": "Production Backup Org",
                    "datacenter": "us1",
                    "created_at_us": 1796561136160030,
                },
            ],
            "keys": [
                {
                    "id": "35810889-ffc5-4e5e-adac-d7bc2de6f1b8",
                    "org_uuid": BACKUP_UUID,
                    "kind": "api",
                    "secret_hash": (
                        "16a1cbac4b87df44f6b45ac3f6f6f80b8efaa174d721d0af137104de77ecb7f8"
                    ),
                    "created_at_us": 1796561136160412,
                    "revoked_at_us": None,
                    "permission": "write",
                },
                {
                    "id": "472bc3cf-4591-44e2-9ed5-bc568a221eb4",
                    "org_uuid": BACKUP_UUID,
                    "kind": "app",
                    "secret_hash": (
                        "33ebee35a9b77c306dcc7273c3512fa0b828e0a18ace89dfb51bc5cd772bf2d1"
                    ),
                    "created_at_us": 1796561136160918,
                    "revoked_at_us": None,
                    "permission": "write",
                },
                {
                    "id": "b2f9bda1-3934-4259-b9ea-fbf3481b1ea8",
                    "org_uuid": PRODUCTION_UUID,
                    "kind": "api",
                    "secret_hash": (
                        "cead0d47facb58b2f673384a569b6a71303d8c4f50ae86013eca925ccf7f38d8"
                    ),
                    "created_at_us": 1796561136152035,
                    "revoked_at_us": None,
                    "permission": "write",
                },
                {
                    "id": "fdef8b63-1c90-45f9-920c-335740c12984",
                    "org_uuid": PRODUCTION_UUID,
                    "kind": "app",
                    "secret_hash": (
                        "758d37df422e09ddcc64fb6c4214888a30aa82c1a460ae2b3c0604e1fdebf70e"
                    ),
                    "created_at_us": 1796561136152506,
                    "revoked_at_us": None,
                    "permission": "write",
                },
            ],
            "connections": [
                {
                    "id": "f13a9185-75b7-45d9-b410-a6b15f6e6499",
                    "org_uuid": PRODUCTION_UUID,
                    "target_org_uuid": BACKUP_UUID,
                    "target_org_name": "Production Backup Org",
                    "target_org_datacenter": "us1",
                    "linked": True,
                    "org_is_primary": True,
                    "hamr_status": 2,
                    "modified_at_us": 1796561136187420,
                    "modified_by": "hamr-demo",
                }
            ],
            "connection_members": [
                {
                    "org_uuid": PRODUCTION_UUID,
                    "connection_id": "f13a9185-75b7-45d9-b410-a6b15f6e6499",
                },
                {"org_uuid": BACKUP_UUID, "connection_id": "f13a9185-75b7-45d9-b410-a6b15f6e6499"},
            ],
            "history": [
                {
                    "id": 1,
                    "org_uuid": PRODUCTION_UUID,
                    "key_id": "fdef8b63-1c90-45f9-920c-335740c12984",
                    "connection_id": "f13a9185-75b7-45d9-b410-a6b15f6e6499",
                    "modified_by": "hamr-demo",
                    "recorded_at_us": 1796561136171655,
                    "before": None,
                    "after": {
                        "hamr_status": 1,
                        "is_primary": True,
                        "modified_at": "2026-12-06T12:45:36.171655Z",
                        "modified_by": "hamr-demo",
                        "target_org_datacenter": "us1",
                        "target_org_name": "Production Backup Org",
                        "target_org_uuid": BACKUP_UUID,
                    },
                    "violation": None,
                    "reason": None,
                    "chain_hash": (
                        "5406b21270369616ef5bbe4827eec0f544d19ce3c0645d20e553641e358b8fc8"
                    ),
                },
                {
                    "id": 2,
                    "org_uuid": PRODUCTION_UUID,
                    "key_id": "fdef8b63-1c90-45f9-920c-335740c12984",
                    "connection_id": "f13a9185-75b7-45d9-b410-a6b15f6e6499",
                    "modified_by": "hamr-demo",
                    "recorded_at_us": 1796561136187420,
                    "before": {
                        "hamr_status": 1,
                        "is_primary": True,
                        "modified_at": "2026-12-06T12:45:36.171655Z",
                        "modified_by": "hamr-demo",
                        "target_org_datacenter": "us1",
                        "target_org_name": "Production Backup Org",
                        "target_org_uuid": BACKUP_UUID,
                    },
                    "after": {
                        "hamr_status": 2,
                        "is_primary": True,
                        "modified_at": "2026-12-06T12:45:36.187420Z",
                        "modified_by": "hamr-demo",
                        "target_org_datacenter": "us1",
                        "target_org_name": "Production Backup Org",
                        "target_org_uuid": BACKUP_UUID,
                    },
                    "violation": None,
                    "reason": None,
                    "chain_hash": (
                        "ad0a55a677c0bc256d8427d87ce112c01d6dd07da39042fc96efb2907b4da7b1"
                    ),
                },
            ],
        },
    }
}
