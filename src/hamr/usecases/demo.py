"""`hamr serve --demo`: two partner organizations, linked as Datadog's Disaster Recovery (DDR)
set-up guide links them, with keys and commands to paste. Keys are stored as hashes only, so
they are printed once, at the start that makes the orgs; a later start on the same database
makes no new ones and says where the pair stands."""

from __future__ import annotations

import json
from dataclasses import dataclass

from hamr.domain.errors import NotFound
from hamr.domain.model import Connection, HamrStatus, KeyKind, Org, RequestedChange
from hamr.domain.rules import default_pointers
from hamr.usecases.service import HamrService

# The organizations of Datadog's documented examples, where those examples put them: its POST
# body, sent by Production Org, names Production Backup Org in us1, so Production Org is not.
PRODUCTION = Org("550e8400-e29b-41d4-a716-446655440000", "Production Org", "eu1")
BACKUP = Org("660f9511-f3ac-52e5-b827-557766551111", "Production Backup Org", "us1")
# How the DDR guide links a pair, from the primary: one short POST, then at rest. The demo
# links its pair so, and prints the same two POSTs.
DDR_LINK = (HamrStatus.ONBOARDING, HamrStatus.PASSIVE)
# What a drill walks the pair through, from rest and back: (status, what it means).
DRILL = (
    (HamrStatus.FAILOVER, "Start the failover"),
    (HamrStatus.ACTIVE, "The failover is active: the backup serves"),
    (HamrStatus.RECOVERY, "Start the recovery"),
    (HamrStatus.PASSIVE, "Recovered: back at rest"),
)


@dataclass(frozen=True, slots=True)
class DemoOrg:
    org: Org
    api_key: str
    app_key: str


@dataclass(frozen=True, slots=True)
class KeptDemo:
    """The demo orgs a database holds from an earlier start, and their pair as it stands."""

    orgs: list[Org]
    connection: Connection | None  # the first org's side; None: not linked now


def start_demo(service: HamrService, base_url: str) -> str:
    """What `hamr serve --demo` prints: on a database without the demo orgs, it makes them and
    prints their keys and commands; on one that has them, it makes no keys and prints the pair's
    real status."""
    kept = kept_demo(service)
    if kept is None:
        return instructions(ensure_demo(service), base_url)
    return kept_instructions(kept, base_url)


def ensure_demo(service: HamrService) -> list[DemoOrg]:
    """Create the demo orgs (absent: a fresh database, or the emulator's reset after its wipe)
    with a key pair each, and link them as the DDR guide does."""
    production, backup = (_create_org(service, org) for org in (PRODUCTION, BACKUP))
    principal = service.identify(production.app_key, KeyKind.APP)
    assert principal is not None
    for status in DDR_LINK:
        service.write_connection(principal, _ddr_change(status, BACKUP, primary=True))
    return [production, backup]


def kept_demo(service: HamrService) -> KeptDemo | None:
    """The demo orgs this database holds, or None if it has neither."""
    orgs = [org for org in map(service.get_org, (PRODUCTION.uuid, BACKUP.uuid)) if org]
    if not orgs:
        return None
    try:
        connection: Connection | None = service.read_connection(orgs[0], fresh=True)
    except NotFound:
        connection = None
    return KeptDemo(orgs, connection)


def _create_org(service: HamrService, wanted: Org) -> DemoOrg:
    org, api_key, app_key = service.create_org(wanted.name, wanted.datacenter, wanted.uuid)
    return DemoOrg(org, api_key, app_key)


def _ddr_change(status: HamrStatus, target: Org, primary: bool) -> RequestedChange:
    return RequestedChange(
        hamr_status=status,
        is_primary=primary,
        modified_by="hamr-demo",
        target_org_uuid=target.uuid,
        target_org_name=None,
        target_org_datacenter=None,
        pointers=default_pointers(),
    )


def ddr_body(caller: Org, target: Org, status: HamrStatus, primary: bool) -> dict[str, object]:
    """The DDR guide's body: only the target's UUID, the status, who and which side."""
    return {
        "data": {
            "type": "hamr_org_connections",
            "id": caller.uuid,
            "attributes": {
                "TargetOrgUuid": target.uuid,
                "HamrStatus": int(status),
                "ModifiedBy": "you@example.com",
                "IsPrimary": primary,
            },
        }
    }


def instructions(demo: list[DemoOrg], base_url: str) -> str:
    """What a newcomer pastes, in the order to send it: the keys, a GET, the POSTs of a
    failover drill (each a move of the HAMR lifecycle), and only then the DDR guide's two
    linking POSTs (the first moves the linked demo pair back to ONBOARDING, and the text says
    so); then the web page's address and the official Python client."""
    production, backup = demo
    lines = [
        "hamr demo organizations (keys are shown only now: hamr stores their hashes, and later",
        "starts on this database make and print none):",
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
        "They are linked, at rest (PASSIVE), Production Org primary. Both orgs read the pair's",
        "one connection; Production Org's side:",
        "",
        f'  curl -s "{base_url}/api/v2/hamr" \\',
        f'    -H "DD-API-KEY: {production.api_key}" \\',
        f'    -H "DD-APPLICATION-KEY: {production.app_key}"',
        "",
        "A failover drill, from the backup org: FAILOVER, ACTIVE, RECOVERY, then PASSIVE again:",
    ]
    for status, meaning in DRILL:
        body = ddr_body(backup.org, production.org, status, primary=False)
        lines += ["", f"  # {int(status)} {status.name}: {meaning}"]
        lines += _curl_post(base_url, backup, body)
    lines += [
        "",
        "How Datadog's DDR set-up guide links two orgs: one POST from the primary (ONBOARDING),",
        "then one leaving the pair at rest (PASSIVE). hamr did both for the demo pair; sent to it",
        "now, the first is a move back outside the lifecycle, stored with an X-Hamr-Warning:",
    ]
    for status in DDR_LINK:
        body = ddr_body(production.org, backup.org, status, primary=True)
        lines += ["", *_curl_post(base_url, production, body)]
    lines += [
        "",
        f"In a browser: {base_url}/ui, signed in with either org's two keys.",
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


def kept_instructions(kept: KeptDemo, base_url: str) -> str:
    """A later start's account: the orgs, where their pair stands now, and where keys come
    from (the first start printed them; hamr cannot print a key again)."""
    lines = [
        "hamr demo organizations, made at an earlier start on this database; their keys were",
        "printed then (hamr stores only their hashes, so it makes and prints none now):",
        "",
        *(f"  {org.name} ({org.datacenter})  uuid {org.uuid}" for org in kept.orgs),
        "",
    ]
    link = kept.connection
    if link is None:
        lines.append(f"{kept.orgs[0].name} is not linked now.")
    else:
        primary = kept.orgs[0].name if link.is_primary else link.target_org_name
        lines += [
            f"Their pair is {link.hamr_status.name} ({int(link.hamr_status)}) now, "
            f"{primary} primary;",
            f"last written at {link.modified_at} by {link.modified_by}.",
        ]
    lines += [
        "",
        "Use the keys printed at the first start, or make new ones (with this server's",
        "--database, if it has one):",
        "",
        *(
            f"  hamr key create --org {org.uuid} --type {kind}"
            for org in kept.orgs
            for kind in ("api", "app")
        ),
        "",
        f"In a browser: {base_url}/ui, signed in with either org's two keys. A database",
        "without the demo orgs (another --database) gets them anew, with their keys printed.",
        "",
    ]
    return "\n".join(lines)


def _curl_post(base_url: str, sender: DemoOrg, body: dict[str, object]) -> list[str]:
    return [
        f'  curl -s -X POST "{base_url}/api/v2/hamr" \\',
        '    -H "Content-Type: application/json" \\',
        f'    -H "DD-API-KEY: {sender.api_key}" \\',
        f'    -H "DD-APPLICATION-KEY: {sender.app_key}" \\',
        f"    -d '{json.dumps(body)}'",
    ]
