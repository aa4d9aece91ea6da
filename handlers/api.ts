import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { routeApi } from './api-routes';
import { lambdaEntry } from './lambda-entry';
import { lambdaApiPorts } from './lambda-ports';

/** HTTP API (IAM auth): the routes of `API_ROUTES` (api-routes.ts), documented in docs/openapi.yaml. */
export const handler = lambdaEntry(async (event: APIGatewayProxyEventV2) => routeApi(event, lambdaApiPorts()));
