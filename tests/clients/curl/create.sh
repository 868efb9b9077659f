#!/usr/bin/env bash
# Datadog's documented curl command for POST /api/v2/hamr, from
# ../../../../shared/seeds/001_7557d1427d4d5f97.txt, with only its host changed: the page's
# URL (a run-together list of every site's "https://api.<site>") becomes "${HAMR_URL}",
# hamr's base URL. The page renders its "# Curl command" comment (escaped as "\#") and the
# command on one line; here they are two lines again, as in a shell the comment would
# otherwise swallow the command.
# test_curl_examples.py checks that the command is still the seed's.
# Curl command
curl -X POST "${HAMR_URL}/api/v2/hamr" \
-H "Accept: application/json" \
-H "Content-Type: application/json" \
-H "DD-API-KEY: ${DD_API_KEY}" \
-H "DD-APPLICATION-KEY: ${DD_APP_KEY}" \
-d @- << EOF
{
  "data": {
    "attributes": {
      "hamr_status": 4,
      "is_primary": true,
      "modified_by": "admin@example.com",
      "target_org_datacenter": "us1",
      "target_org_name": "Production Backup Org",
      "target_org_uuid": "660f9511-f3ac-52e5-b827-557766551111"
    },
    "id": "550e8400-e29b-41d4-a716-446655440000",
    "type": "hamr_org_connections"
  }
}
EOF
