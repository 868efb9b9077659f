"""Several changes in one transaction (group commit) behave as if made one after another."""

from __future__ import annotations

from hamr.domain.model import ConnectionChange, HamrStatus, KeyKind
from tests.conftest import Admin


def change(status: int, partner_uuid: str) -> ConnectionChange:
    return ConnectionChange(
        hamr_status=HamrStatus(status),
        is_primary=False,
        modified_by="batch@example.com",
        target_org_datacenter="eu1",
        target_org_name="partner",
        target_org_uuid=partner_uuid,
    )


def test_one_org_written_twice_in_a_batch_chains_its_history(admin: Admin) -> None:
    first, second = admin.create_org("us1"), admin.create_org("us1")
    partner = admin.create_org("eu1")
    caller_a = admin.service.identify(first.app_key, KeyKind.APP)
    caller_b = admin.service.identify(second.app_key, KeyKind.APP)
    assert caller_a is not None
    assert caller_b is not None

    stored = admin.service.upsert_connections(
        [
            (caller_a, change(1, partner.uuid)),
            (caller_b, change(2, partner.uuid)),
            (caller_a, change(3, partner.uuid)),
        ]
    )

    assert [c.hamr_status for c in stored] == [1, 2, 3]
    assert stored[0].modified_at_us < stored[2].modified_at_us
    final = admin.connection(first.uuid)
    assert final is not None
    assert final.hamr_status == HamrStatus.FAILOVER
    history = admin.history(first.uuid)
    assert [(h.before and h.before["hamr_status"], h.after["hamr_status"]) for h in history] == [
        (None, 1),
        (1, 3),
    ]
    assert len(admin.history(second.uuid)) == 1
