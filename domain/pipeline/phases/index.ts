/**
 * The registry: every phase, once. The plan of each path and platform (plan.ts), the request
 * pacing, the deadlines and first polls, the wakes (wake-jobs.ts), the ports each phase function is
 * built with and the rights of its role (infra/deploy), its queue, rule and alarms all derive from
 * these declarations. Their order is the order operators see phases in.
 */
import type { PhaseName } from '../../job/job';
import type { PhaseDefinition, PhaseStep, PortName } from '../phase';
import { attachToHelperPhase } from './attach-to-helper';
import { cleanupPhase } from './cleanup';
import { createBackupPhase } from './create-backup';
import { createPasswordImagePhase } from './create-password-image';
import { detachFromHelperPhase } from './detach-from-helper';
import { detachRootPhase } from './detach-root';
import { launchHelperPhase } from './launch-helper';
import { onlineResetPhase } from './online-reset';
import { prepareNetworkPhase } from './prepare-network';
import { reattachRootPhase } from './reattach-root';
import { restoreTargetPhase } from './restore-target';
import { rollbackPhase } from './rollback';
import { runRescuePhase } from './run-rescue';
import { stopTargetPhase } from './stop-target';
import { validatePhase } from './validate';
import { windowsFallbackPhase } from './windows-fallback';

export const PHASE_DEFINITIONS = [
  validatePhase,
  onlineResetPhase,
  prepareNetworkPhase,
  launchHelperPhase,
  stopTargetPhase,
  createBackupPhase,
  detachRootPhase,
  attachToHelperPhase,
  runRescuePhase,
  windowsFallbackPhase,
  detachFromHelperPhase,
  reattachRootPhase,
  createPasswordImagePhase,
  restoreTargetPhase,
  cleanupPhase,
  rollbackPhase,
] as const;

type Declared = (typeof PHASE_DEFINITIONS)[number];
export type { PhaseName } from '../../job/job';

// Every name a phase module declares (job.ts PhaseNames) is registered here, and no other.
const namesAreRegistered: [Exclude<PhaseName, Declared['name']>] extends [never] ? true : false = true;
void namesAreRegistered;

// Every phase a declaration runs after or before is a declared phase (a typo does not compile).
type Referenced = Declared['after'][number] | NonNullable<Declared['before']>[number];
const referencesAreDeclared: [Exclude<Referenced, PhaseName>] extends [never] ? true : false = true;
void referencesAreDeclared;

/** A phase's declaration, with the ports it may ask for widened (what the runner sees). */
export type AnyPhaseDefinition = PhaseDefinition<PhaseName, PhaseName, PortName>;

export const PHASES: readonly PhaseName[] = PHASE_DEFINITIONS.map((definition) => definition.name);

const byName = new Map<string, AnyPhaseDefinition>(PHASE_DEFINITIONS.map((definition) => [definition.name, definition as AnyPhaseDefinition]));

export function isPhaseName(value: unknown): value is PhaseName {
  return typeof value === 'string' && byName.has(value);
}

export function phaseDefinition(phase: PhaseName): AnyPhaseDefinition {
  return byName.get(phase)!;
}

/** The phases' steps by name, each called with the ports its declaration asks for. */
export type PhaseSteps = Readonly<Record<PhaseName, PhaseStep<PortName>>>;

export const phaseSteps: PhaseSteps = Object.fromEntries(PHASE_DEFINITIONS.map((definition) => [definition.name, definition.step])) as unknown as PhaseSteps;
