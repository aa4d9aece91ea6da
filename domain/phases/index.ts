import type { PhaseName } from '../job';
import type { PhaseStep } from '../phase-runner';
import { cleanup } from './cleanup';
import { createBackup } from './create-backup';
import { createPasswordImage } from './create-password-image';
import { launchHelper } from './launch-helper';
import { onlineReset } from './online-reset';
import { prepareNetwork } from './prepare-network';
import { restoreTarget } from './restore-target';
import { rollback } from './rollback';
import { runRescue } from './run-rescue';
import { stopTarget } from './stop-target';
import { validateTarget } from './validate';
import { attachToHelper, detachFromHelper, detachRoot, reattachRoot } from './volume-moves';

/** Every phase's step, by name. */
export const phaseSteps: Record<PhaseName, PhaseStep> = {
  validate: validateTarget,
  'online-reset': onlineReset,
  'prepare-network': prepareNetwork,
  'launch-helper': launchHelper,
  'stop-target': stopTarget,
  'create-backup': createBackup,
  'detach-root': detachRoot,
  'attach-to-helper': attachToHelper,
  'run-rescue': runRescue,
  'detach-from-helper': detachFromHelper,
  'reattach-root': reattachRoot,
  'create-password-image': createPasswordImage,
  'restore-target': restoreTarget,
  cleanup,
  rollback,
};
