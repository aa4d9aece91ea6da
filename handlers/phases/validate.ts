import { createPhaseHandler } from '../phase-handler';
import { kmsEncryptionKeys, lambdaPhasePorts, onlinePorts } from '../lambda-ports';

/** The preflight again, with its KMS key check, and the online-or-offline choice (the target's SSM agent). */
export const ports = lambdaPhasePorts({ keys: kmsEncryptionKeys, online: onlinePorts });
export const handler = createPhaseHandler('validate', ports);
