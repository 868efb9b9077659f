"""
Get HAMR organization connection returns "OK" response
"""

# Datadog's documented Python example for GET /api/v2/hamr, from
# ../../../../shared/seeds/000_8e49c40a6aa1d7be.txt, run as its instructions say
# (DD_API_KEY="<DD_API_KEY>" DD_APP_KEY="<DD_APP_KEY>" python3 "example.py"). Its code is the
# seed's, line for line, but for the host: DD_SITE can only name one of Datadog's own
# https://api.<site> hosts, so `Configuration()` becomes
# `Configuration(host=os.environ["HAMR_URL"])`, hamr's base URL, which needs `import os`.
# The keys still come from DD_API_KEY and DD_APP_KEY. Everything else here is a comment: this
# one, and the pragmas that keep ruff from rewrapping the seed's long import line.
# test_python_examples.py checks that the code is still the seed's.
# ruff: noqa: E501, I001

import os

# fmt: off
from datadog_api_client import ApiClient, Configuration
from datadog_api_client.v2.api.high_availability_multi_region_api import HighAvailabilityMultiRegionApi
# fmt: on

configuration = Configuration(host=os.environ["HAMR_URL"])
configuration.unstable_operations["get_hamr_org_connection"] = True
with ApiClient(configuration) as api_client:
    api_instance = HighAvailabilityMultiRegionApi(api_client)
    response = api_instance.get_hamr_org_connection()

    print(response)
