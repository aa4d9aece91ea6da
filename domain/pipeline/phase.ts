/**
 * What a phase is: one declaration (`definePhase`) that the plan, the request pacing, the deadlines,
 * the polling, the wakes, the ports it is built with and the rights its role gets all derive from.
 * The phases are registered in `domain/pipeline/phases/index.ts`; `docs/architecture.md#adding-a-phase` walks
 * through adding one.
 */
import type { ServiceConfig } from '../config';
import type { Job, PhaseName, Platform, UndoStep } from '../job/job';
import type { OnlinePorts } from '../online-ports';
import type {
  AdmissionStore,
  Clock,
  Compute,
  EncryptionKeys,
  HelperPoolStore,
  JobObserver,
  JobStore,
  Log,
  PhaseBus,
  PhaseScheduler,
  RescueNetworkLeases,
  RescueNetworks,
  RescueRunner,
  ResourceRole,
  StopBatchStore,
} from '../ports';
import type { PacedCall, RequestPacer } from '../admission/request-pacing';

/** The ports every phase is run with. */
export interface CorePorts {
  store: JobStore;
  bus: PhaseBus;
  scheduler: PhaseScheduler;
  compute: Compute;
  /** The shared rescue network's record: a job that ends releases its lease (any last phase). */
  networkLeases: RescueNetworkLeases;
  /** Where the EC2 request buckets the service paces its calls into are kept (request-pacing.ts). */
  admission: AdmissionStore;
  observer: JobObserver;
  clock: Clock;
  log: Log;
  config: ServiceConfig;
  /** The pacing of this delivery's calls: set by the runner, never by the composition. */
  pacer?: RequestPacer;
}

/** The ports a phase asks for by name (`PhaseDefinition.ports`); it is built with those only. */
export interface OptionalPorts {
  /** The shared rescue network (prepare-network builds it; the preflight asks whether it exists). */
  networks: RescueNetworks;
  /** Run Command on the helper: the rescue script, and the helper's SSM agent. */
  rescue: RescueRunner;
  /** The online reset: Run Command on the target itself, keys made in the service. */
  online: OnlinePorts;
  /** KMS, for the preflight's check of an encrypted root's key. */
  keys: EncryptionKeys;
  /** Stops shared while EC2's mutating bucket has a queue (stop-batches.ts). */
  stopBatches: StopBatchStore;
  /** The warm pool of stopped Windows helpers (helper-pool.ts). */
  helperPool: HelperPoolStore;
}
export type PortName = keyof OptionalPorts;
export const PORT_NAMES: readonly PortName[] = ['networks', 'rescue', 'online', 'keys', 'stopBatches', 'helperPool'];

/** The ports of a phase that asked for `K`. */
export type PhasePorts<K extends PortName = never> = CorePorts & Pick<OptionalPorts, K>;

/** What one delivery of a phase found: the phase is done, or must look again later. */
export type PhaseResult =
  | { kind: 'done'; record?: (job: Job) => void }
  | { kind: 'wait'; waitingFor: string; record?: (job: Job) => void; delaySeconds?: number; onEvent?: boolean };

export type PhaseStep<K extends PortName = never> = (job: Job, ports: PhasePorts<K>) => Promise<PhaseResult>;

export const done = (record?: (job: Job) => void): PhaseResult => ({ kind: 'done', record });
export const wait = (waitingFor: string, record?: (job: Job) => void, delaySeconds?: number): PhaseResult => ({
  kind: 'wait',
  waitingFor,
  record,
  delaySeconds,
});
/** A wait that an AWS event ends (domain/pipeline/wake-jobs.ts): the delayed re-check is only its fallback. */
export const waitForEvent = (waitingFor: string, record?: (job: Job) => void): PhaseResult => ({ kind: 'wait', waitingFor, record, onEvent: true });

/**
 * What a phase does to AWS beyond reading it, in the domain's words. The deployment turns each into
 * the IAM statements of the phase's role (infra/deploy/grants.ts), with the conditions that keep it
 * to the resources the grant names: a phase's role has exactly the grants it declares.
 */
export type PhaseGrant =
  /** Create the shared rescue VPC and its parts, tagged as the service's. */
  | 'build-rescue-network'
  /** Launch a helper (tagged at launch, the helper's instance profile only). */
  | 'launch-helper'
  /** Stop and start a helper (a Marketplace volume attaches to a stopped one). */
  | 'stop-start-helper'
  | 'terminate-helper'
  /** Send the rescue script to a helper and read its output. */
  | 'run-rescue-command'
  | 'stop-target'
  | 'start-target'
  /** An image of the stopped target, tagged as the service's at creation. */
  | 'image-target'
  | 'detach-root-volume'
  /** Detach and attach the root volume (target ↔ helper). */
  | 'move-root-volume'
  /** Detach and attach the root volume between the job's helpers only (the Windows fallback). */
  | 'move-volume-between-helpers'
  /** The root's DeleteOnTermination, set back as it was. */
  | 'restore-delete-on-termination'
  /** EC2's use of the customer's KMS key for an encrypted root (attach, start, launch). */
  | 'use-encrypted-volumes'
  /** Run Command on the target itself, its reboot and password data, the key parameter. */
  | 'reset-online';

/** The paths of a reset (reset-mode.ts): the swap (`offline`) and the in-place reset (`online`). */
export type PhasePath = 'offline' | 'online';

export interface PhaseDefinition<N extends string = string, A extends string = string, K extends PortName = PortName> {
  name: N;
  step: PhaseStep<NoInfer<K>>;
  /** The paths whose plans hold the phase; none for `rollback`, which the runner starts. */
  paths: readonly PhasePath[];
  /** Only on these platforms (default: all). */
  platforms?: readonly Platform[];
  /** The phases that must be done before it starts (several: a join). */
  after: readonly A[];
  /**
   * For a phase only some plans hold: the phases it goes in front of where it is held (they then
   * wait for it instead of for its own `after`). Lets a phase be added without editing others.
   */
  before?: readonly A[];
  /** The ports it is built with besides the core ones. */
  ports: readonly K[];
  grants: readonly PhaseGrant[];
  /** What rollback must undo once the phase has started (pushed before it changes anything). */
  undoOnStart?: UndoStep;
  /** The paced call its first delivery starts with: its slot is taken before anything is read. */
  pacedOnStart?: PacedCall;
  /** Longest the phase may run (seconds) before the job rolls back (`config.phaseDeadlineSeconds` overrides). */
  deadlineSeconds: number;
  /** On Windows it waits for a boot (≥ 15 min first boot): at least `config.windowsLaunchDeadlineSeconds`. */
  slowOnWindows?: boolean;
  /** First delay between its looks (`config.pollSeconds.first` overrides; else `defaultFirst`). */
  firstPollSeconds?: number;
  /** Events about the job's resources in these roles may end its waits (wake-jobs.ts). */
  wokenBy: readonly ResourceRole[];
}

/** Declares a phase; the name literals are kept so that the registry can derive `PhaseName`. */
export function definePhase<const N extends PhaseName, const A extends string = never, const K extends PortName = never>(
  definition: PhaseDefinition<N, A, K>,
): PhaseDefinition<N, A, K> {
  return definition;
}

/** The phase's deadline for this job: the configured one or its declared one, longer on Windows where it waits for a boot. */
export function phaseDeadlineSeconds(
  job: Pick<Job, 'platform'>,
  definition: Pick<PhaseDefinition, 'name' | 'deadlineSeconds' | 'slowOnWindows'>,
  config: ServiceConfig,
): number {
  const deadline = config.phaseDeadlineSeconds[definition.name as keyof ServiceConfig['phaseDeadlineSeconds']] ?? definition.deadlineSeconds;
  return job.platform === 'windows' && definition.slowOnWindows ? Math.max(config.windowsLaunchDeadlineSeconds, deadline) : deadline;
}

/** The first delay between the phase's looks: the configured one, its declared one, or the default. */
export function firstPollSeconds(definition: Pick<PhaseDefinition, 'name' | 'firstPollSeconds'>, config: ServiceConfig): number {
  return (
    config.pollSeconds.first[definition.name as keyof ServiceConfig['pollSeconds']['first']] ?? definition.firstPollSeconds ?? config.pollSeconds.defaultFirst
  );
}
