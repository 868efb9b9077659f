/**
 * Create or update HAMR organization connection returns "OK" response
 */

// NOT from the seed: Datadog's POST page (../../../../shared/seeds/001_7557d1427d4d5f97.txt)
// shows only a curl command. This is that command's request, with the documented body
// unchanged, written the way the GET page's TypeScript example is written (get.ts), with the
// same one change for the server: a `baseServer` from env HAMR_URL.

import { client, v2 } from "@datadog/datadog-api-client";

const configuration = client.createConfiguration({
  baseServer: new client.BaseServerConfiguration(process.env.HAMR_URL!, {}),
});
configuration.unstableOperations["v2.createHamrOrgConnection"] = true;
const apiInstance = new v2.HighAvailabilityMultiRegionApi(configuration);

const params: v2.HighAvailabilityMultiRegionApiCreateHamrOrgConnectionRequest = {
  body: {
    data: {
      attributes: {
        hamrStatus: 4,
        isPrimary: true,
        modifiedBy: "admin@example.com",
        targetOrgDatacenter: "us1",
        targetOrgName: "Production Backup Org",
        targetOrgUuid: "660f9511-f3ac-52e5-b827-557766551111",
      },
      id: "550e8400-e29b-41d4-a716-446655440000",
      type: "hamr_org_connections",
    },
  },
};

apiInstance
  .createHamrOrgConnection(params)
  .then((data: v2.HamrOrgConnectionResponse) => {
    console.log(
      "API called successfully. Returned data: " + JSON.stringify(data)
    );
  })
  .catch((error: any) => console.error(error));
