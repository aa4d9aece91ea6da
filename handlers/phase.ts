/**
 * The Lambda entry point of every phase function: the deployment names the phase in `PHASE`
 * (infra/deploy), and the function is built with the ports that phase declares.
 */
import { isPhaseName } from '../domain/pipeline/phases';
import { requireEnv } from '../infra/wiring/config';
import { lambdaPhasePorts } from './lambda-ports';
import { createPhaseHandler } from './phase-handler';

const phase = requireEnv(process.env, 'PHASE');
if (!isPhaseName(phase)) throw new Error(`PHASE names no phase: ${phase}`);

export const ports = lambdaPhasePorts(phase);
export const handler = createPhaseHandler(phase, ports);
