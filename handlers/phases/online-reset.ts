import { createPhaseHandler } from '../phase-handler';
import { lambdaPorts } from '../lambda-ports';

export const handler = createPhaseHandler('online-reset', lambdaPorts);
