import { EC2Client } from '@aws-sdk/client-ec2';
import { SSMClient } from '@aws-sdk/client-ssm';

import { ManualClock } from '../../../infra/sim/clock';
import type { SimEvent } from '../../../infra/sim/events';
import { createSimRequestHandler } from '../../../infra/sim/http';
import { SimulatedRegion, type SimulatedRegionOptions } from '../../../infra/sim/region';

/**
 * A simulated region on a manual clock with real SDK clients in front of it. The clients make a
 * single attempt, so a refusal reaches the test instead of the SDK's retry loop.
 */
export function simulatedRegion(options: Omit<SimulatedRegionOptions, 'clock'> = {}) {
  const clock = new ManualClock(Date.UTC(2025, 5, 1, 12));
  const region = new SimulatedRegion({ clock, ...options });
  const requestHandler = createSimRequestHandler(region);
  const ec2 = new EC2Client({ region: 'us-east-1', requestHandler, maxAttempts: 1 });
  const ssm = new SSMClient({ region: 'us-east-1', requestHandler, maxAttempts: 1 });
  const events: SimEvent[] = [];
  region.onEvent((event) => events.push(event));
  /** Moves simulated time on and applies what fell due. */
  const advance = (ms: number) => {
    clock.advance(ms);
    region.tick();
  };
  return { clock, region, ec2, ssm, events, advance };
}

/** The AWS error code a rejected SDK call carries. */
export async function errorCodeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as { name?: string; Code?: string }).Code ?? (error as Error).name;
  }
  throw new Error('expected the call to fail');
}
