"""`hamr serve --demo`: two partner organizations, connected, with keys to paste."""

from __future__ import annotations

import json
from dataclasses import dataclass

from hamr.domain.errors import NotFound
from hamr.domain.model import ConnectionChange, HamrStatus, KeyKind, Org
from hamr.service import HamrService

# The organizations of Datadog's documented examples, where those examples put them: its POST
# body, sent by Production Org, names Production Backup Org in us1, so Production Org is not.
PRODUCTION = Org("550e8400-e29b-41d4-a716-446655440000", "Production Org", "eu1")
BACKUP = Org("660f9511-f3ac-52e5-b827-557766551111", "Production Backup Org", "us1")


@dataclass(frozen=True, slots=True)
class DemoOrg:
    org: Org
    api_key: str
    app_key: str


def ensure_demo(service: HamrService) -> list[DemoOrg]:
    """Create the demo orgs and their connection if absent; issue a fresh key pair each start
    (keys are only ever shown once, so earlier ones cannot be printed again)."""
    demo = [_ensure_org(service, PRODUCTION), _ensure_org(service, BACKUP)]
    _ensure_connection(service, demo[0], partner=BACKUP, status=HamrStatus.ACTIVE, primary=True)
    _ensure_connection(
        service, demo[1], partner=PRODUCTION, status=HamrStatus.PASSIVE, primary=False
    )
    return demo


def _ensure_org(service: HamrService, wanted: Org) -> DemoOrg:
    if service.get_org(wanted.uuid) is None:
        org, api_key, app_key = service.create_org(wanted.name, wanted.datacenter, wanted.uuid)
        return DemoOrg(org, api_key, app_key)
    api_key = service.create_key(wanted.uuid, KeyKind.API)[1]
    app_key = service.create_key(wanted.uuid, KeyKind.APP)[1]
    return DemoOrg(wanted, api_key, app_key)


def _ensure_connection(
    service: HamrService, demo: DemoOrg, partner: Org, status: HamrStatus, primary: bool
) -> None:
    try:
        service.read_connection(demo.org)
        return
    except NotFound:
        pass
    principal = service.identify(demo.app_key, KeyKind.APP)
    assert principal is not None
    service.upsert_connection(
        principal,
        ConnectionChange(
            hamr_status=status,
            is_primary=primary,
            modified_by="hamr-demo",
            target_org_datacenter=partner.datacenter,
            target_org_name=partner.name,
            target_org_uuid=partner.uuid,
        ),
    )


def instructions(demo: list[DemoOrg], base_url: str) -> str:
    """What a newcomer pastes: the keys, curl for GET and POST, and the official Python client."""
    production, backup = demo
    lines = [
        "hamr demo organizations (keys are shown once; new ones are issued at each start):",
        "",
    ]
    for entry in demo:
        lines += [
            f"  {entry.org.name} ({entry.org.datacenter})  uuid {entry.org.uuid}",
            f"    DD-API-KEY          {entry.api_key}",
            f"    DD-APPLICATION-KEY  {entry.app_key}",
        ]
    lines += [
        "",
        "Read Production Org's connection:",
        "",
        f'  curl -s "{base_url}/api/v2/hamr" \\',
        f'    -H "DD-API-KEY: {production.api_key}" \\',
        f'    -H "DD-APPLICATION-KEY: {production.app_key}"',
        "",
        "Fail over: make Production Backup Org active:",
        "",
        f'  curl -s -X POST "{base_url}/api/v2/hamr" \\',
        '    -H "Content-Type: application/json" \\',
        f'    -H "DD-API-KEY: {backup.api_key}" \\',
        f'    -H "DD-APPLICATION-KEY: {backup.app_key}" \\',
        f"    -d '{json.dumps(_failover_body(backup.org, production.org))}'",
        "",
        "With Datadog's official Python client (pip install datadog-api-client):",
        "",
        "  from datadog_api_client import ApiClient, Configuration",
        "  from datadog_api_client.v2.api.high_availability_multi_region_api import (",
        "      HighAvailabilityMultiRegionApi,",
        "  )",
        "",
        f'  configuration = Configuration(host="{base_url}")',
        f'  configuration.api_key["apiKeyAuth"] = "{production.api_key}"',
        f'  configuration.api_key["appKeyAuth"] = "{production.app_key}"',
        '  configuration.unstable_operations["get_hamr_org_connection"] = True',
        "  with ApiClient(configuration) as api_client:",
        "      print(HighAvailabilityMultiRegionApi(api_client).get_hamr_org_connection())",
        "",
    ]
    return "\n".join(lines)


def _failover_body(caller: Org, partner: Org) -> dict[str, object]:
    return {
        "data": {
            "id": caller.uuid,
            "type": "hamr_org_connections",
            "attributes": {
                "hamr_status": int(HamrStatus.ACTIVE),
                "is_primary": False,
                "modified_by": "you@example.com",
                "target_org_datacenter": partner.datacenter,
                "target_org_name": partner.name,
                "target_org_uuid": partner.uuid,
            },
        }
    }
