import { createPhaseHandler } from '../phase-handler';
import { lambdaPhasePorts, onlinePorts } from '../lambda-ports';

export const ports = lambdaPhasePorts({ online: onlinePorts });
export const handler = createPhaseHandler('online-reset', ports);
