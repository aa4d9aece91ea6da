/**
 * The alarm function: consumes its queue, which EventBridge rules fill with CloudWatch alarm state
 * changes to ALARM (default bus) and `Reset Access Requested` events (the service's bus), and into
 * which it sends back the starts that wait for their admission slot. Partial batch failures: a
 * record that throws is delivered again (and lands in the DLQ after 5 receives).
 */
import { lambdaTriggerPorts } from './lambda-ports';
import { createTriggerHandler } from './trigger-routes';

export const handler = createTriggerHandler(lambdaTriggerPorts);
