import { createPhaseHandler } from '../phase-handler';
import { lambdaPhasePorts } from '../lambda-ports';

export const ports = lambdaPhasePorts();
export const handler = createPhaseHandler('prepare-network', ports);
