import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { routeApi } from './api-routes';
import { lambdaPorts } from './lambda-ports';

/** HTTP API (IAM auth): POST /resets, GET /resets/{jobId}, GET /resets?instanceId=, POST /resets/{jobId}/cancel. */
export const handler = middy(async (event: APIGatewayProxyEventV2) => routeApi(event, lambdaPorts()));
