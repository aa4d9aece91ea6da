import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { routeApi } from './api-routes';
import { lambdaApiPorts } from './lambda-ports';

/** HTTP API (IAM auth): the routes of `API_ROUTES` (api-routes.ts), documented in docs/openapi.yaml. */
export const handler = middy(async (event: APIGatewayProxyEventV2) => routeApi(event, lambdaApiPorts()));
