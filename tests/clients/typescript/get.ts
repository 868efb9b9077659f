/**
 * Get HAMR organization connection returns "OK" response
 */

// Datadog's documented TypeScript example for GET /api/v2/hamr, from
// ../../../../shared/seeds/000_8e49c40a6aa1d7be.txt, with only its server changed:
// `client.createConfiguration()` is given a `baseServer` that points the client at hamr
// (env HAMR_URL) instead of https://api.{DD_SITE}. The keys still come from DD_API_KEY and
// DD_APP_KEY. The page compiles it with `tsc "example.ts"`; the test bundles it with
// esbuild and runs it with node.
// test_typescript_client.py checks that the code is still the seed's.

import { client, v2 } from "@datadog/datadog-api-client";

const configuration = client.createConfiguration({
  baseServer: new client.BaseServerConfiguration(process.env.HAMR_URL!, {}),
});
configuration.unstableOperations["v2.getHamrOrgConnection"] = true;
const apiInstance = new v2.HighAvailabilityMultiRegionApi(configuration);

apiInstance
  .getHamrOrgConnection()
  .then((data: v2.HamrOrgConnectionResponse) => {
    console.log(
      "API called successfully. Returned data: " + JSON.stringify(data)
    );
  })
  .catch((error: any) => console.error(error));
