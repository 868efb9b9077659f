#!/usr/bin/env bash
# Datadog's documented curl command for GET /api/v2/hamr, from
# ../../../../shared/seeds/000_8e49c40a6aa1d7be.txt (and, with a run-together URL, the GET
# section of 001_7557d1427d4d5f97.txt), with only its host changed:
# "https://api.datadoghq.com" becomes "${HAMR_URL}", hamr's base URL. The page renders its
# "# Curl command" comment (escaped as "\#") and the command on one line; here they are two
# lines again, as in a shell the comment would otherwise swallow the command.
# test_curl_examples.py checks that the command is still the seed's.
# Curl command
curl -X GET "${HAMR_URL}/api/v2/hamr" \
-H "Accept: application/json" \
-H "DD-API-KEY: ${DD_API_KEY}" \
-H "DD-APPLICATION-KEY: ${DD_APP_KEY}"
