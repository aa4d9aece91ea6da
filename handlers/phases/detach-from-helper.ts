import { createPhaseHandler } from '../phase-handler';
import { lambdaPorts } from '../lambda-ports';

export const handler = createPhaseHandler('detach-from-helper', lambdaPorts);
