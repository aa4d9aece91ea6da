/** The use cases behind the API: start a reset, read a job, list an instance's jobs. */
import { authorizeInstance, callerAccess, jobRefusal, recordedAccess, type CallerAccess } from './access';
import type { ServiceConfig } from '../config';
import { RefusedError } from '../errors';
import { bad, KEY_REQUEST_FIELDS, type KeyRequest } from '../key-placement';
import { isActive, type Job, type Platform, type ResetRequest } from '../job/job';
import { startPhaseRecord } from '../pipeline/phase-runner';
import { assertOptedIn, requiredOptInTags, type EntryPoint } from '../preflight/opt-in';
import type { Clock, Compute, EncryptionKeys, IdGenerator, InstanceLock, JobObserver, JobStore, Log, PhaseBus, PrincipalTags, RescueNetworks } from '../ports';
import { gatherPreflightFacts, preflightRecord, watchAgent } from '../preflight/preflight';
import type { OnlinePorts } from '../online-ports';
import { decideMode } from '../preflight/reset-mode';

export interface StartPorts {
  store: JobStore;
  bus: PhaseBus;
  compute: Compute;
  networks: RescueNetworks;
  clock: Clock;
  ids: IdGenerator;
  log: Log;
  config: ServiceConfig;
  observer?: JobObserver;
  /** KMS for the preflight's key check (see `PreflightPorts.keys`). */
  keys?: EncryptionKeys;
  /** The target's SSM agent, for the online-or-offline choice; without it every reset is offline. */
  online?: Pick<OnlinePorts, 'commands'>;
  /** IAM, for the access rule's caller tags (`config.access.source: 'principal-tag'`). */
  principals?: PrincipalTags;
}

export interface StartOptions {
  /** The id the job gets (an idempotent start records it before the job exists); a new one by default. */
  jobId?: string;
  /** Where the request came from: decides the opt-in tags it needs (default `api`). */
  entry?: EntryPoint;
}

/**
 * Start a reset: refuse an instance with an active job (409 naming it), preflight (404 for an
 * unknown instance, 422 with a reason code for a refused one, 403 `NOT_OPTED_IN` when an opt-in guard
 * applies and the tag is missing, 403 `ACCESS_DENIED` when the access rule refuses the caller),
 * take the instance's lock (409 naming the active job), record the job, publish its first phase.
 * Nothing in AWS is changed here.
 */
export async function startReset(request: ResetRequest, ports: StartPorts, requestedBy?: string, options: StartOptions = {}): Promise<Job> {
  const gatheredAt = ports.clock.now();
  const entry = options.entry ?? 'api';
  // Events have no IAM caller to check: their job records the instance's value, for who may see it.
  const caller: CallerAccess = entry === 'api' ? await callerAccess(requestedBy, ports) : { rule: undefined };
  // A duplicate is told about the active job, not about the state that job put the instance in
  // (a stopping instance would fail the preflight with 422 first); the lock below still decides.
  const held = await ports.store.getLock(request.instanceId);
  if (held) await refuseIfHeld(held, gatheredAt.toISOString(), ports, caller);
  const facts = await gatherPreflightFacts(request, ports);
  if (!facts) throw new RefusedError('INSTANCE_NOT_FOUND', `instance ${request.instanceId} does not exist in ${ports.config.region}`, 404);
  const access = entry === 'api' ? authorizeInstance(caller, facts.instance) : recordedAccess(ports.config, facts.instance);
  assertOptedIn(facts.instance, requiredOptInTags(entry, ports.config));
  await checkKeyRequestFits(request, facts.instance.platform, request.instanceId, ports.keys);
  const agent = watchAgent(ports.online);
  const decision = await decideMode(request, facts, { config: ports.config, online: agent.online });
  if (decision.refusal) throw new RefusedError(decision.refusal.code, decision.refusal.message, 422);

  const now = ports.clock.now().toISOString();
  const jobId = options.jobId ?? ports.ids.jobId();
  await takeInstanceLock(request.instanceId, jobId, now, ports);
  const job: Job = {
    jobId,
    instanceId: request.instanceId,
    platform: facts.instance.platform,
    status: 'RUNNING',
    request,
    requestedBy,
    ...(access ? { access } : {}),
    createdAt: now,
    updatedAt: now,
    version: 1,
    current: [],
    phases: {},
    resources: {},
    outputs: {},
    undo: [],
    // What was just read, so that validate reads again only what may change in a moment.
    preflight: preflightRecord(facts, gatheredAt, agent.seen()),
  };
  startPhaseRecord(job, 'validate', now);
  try {
    await ports.store.put(job, undefined);
  } catch (error) {
    await ports.store.releaseLock(request.instanceId, jobId);
    throw error;
  }
  // A crash here leaves a RUNNING job in `validate` with no message: the sweeper re-drives it.
  await ports.bus.publish([{ jobId, phase: 'validate', attempt: 0 }]);
  ports.log.info('reset started', { jobId, instanceId: request.instanceId, requestedBy });
  if (ports.observer) {
    // Observers never fail a start: the job is recorded and running already.
    await ports.observer.jobStarted(job).catch((error: Error) => ports.log.warn('observer failed', { jobId, error: error.message }));
  }
  return job;
}

/**
 * One active job per instance. A lock whose job has finished (its release was lost) or whose job
 * record never appeared (a crash between lock and job) is taken over, conditionally on its holder.
 */
async function takeInstanceLock(instanceId: string, jobId: string, now: string, ports: StartPorts): Promise<void> {
  const lock = { instanceId, jobId, acquiredAt: now };
  if (await ports.store.acquireLock(lock)) return;
  const held = await ports.store.getLock(instanceId);
  if (held) await refuseIfHeld(held, now, ports, { rule: undefined });
  if (!(await ports.store.acquireLock(lock, held?.jobId))) {
    const now2 = await ports.store.getLock(instanceId);
    throw new RefusedError('ACTIVE_JOB', `instance ${instanceId} was just locked by job ${now2?.jobId ?? 'another request'}`, 409, now2?.jobId);
  }
}

/**
 * Refuses (409 naming the job) unless `held` is a lock that may be taken over: its job has ended, or
 * never appeared and is orphaned. A caller the access rule keeps from the active job is told 403,
 * not the job.
 */
async function refuseIfHeld(held: InstanceLock, now: string, ports: StartPorts, caller: CallerAccess): Promise<void> {
  const holder = await ports.store.get(held.jobId);
  const orphaned = !holder && Date.parse(now) - Date.parse(held.acquiredAt) > ports.config.orphanLockSeconds * 1000;
  const hidden = holder && isActive(holder) ? jobRefusal(caller, holder) : undefined;
  if (hidden) throw new RefusedError('ACCESS_DENIED', `instance ${held.instanceId} has an active reset the caller may not see: ${hidden}`, 403);
  if (holder && isActive(holder)) {
    throw new RefusedError('ACTIVE_JOB', `instance ${held.instanceId} already has an active reset job ${holder.jobId}`, 409, holder.jobId);
  }
  if (!holder && !orphaned) {
    throw new RefusedError('ACTIVE_JOB', `instance ${held.instanceId} is being locked by job ${held.jobId}`, 409, held.jobId);
  }
}

/** Refuses (409 naming it) a start for an instance that has an active reset, from the job table only (idempotent-start.ts `answerWithoutStart`). */
export async function refuseWhileActive(instanceId: string, ports: StartPorts, requestedBy?: string): Promise<void> {
  const held = await ports.store.getLock(instanceId);
  if (held) await refuseIfHeld(held, ports.clock.now().toISOString(), ports, await callerAccess(requestedBy, ports));
}

export async function getJob(jobId: string, store: JobStore): Promise<Job> {
  const job = await store.get(jobId);
  if (!job) throw new RefusedError('JOB_NOT_FOUND', `job ${jobId} does not exist`, 404);
  return job;
}

/**
 * What the key fields need of the target, once the preflight knows it: a Linux instance (a Windows
 * reset makes no SSH key: it turns password generation back on), and a KMS key that exists and is
 * enabled. A key the service may not describe is not refused: Parameter Store, not DescribeKey,
 * decides whether it can be used (docs/aws-facts.md#parameter-store-and-kms).
 */
export async function checkKeyRequestFits(request: KeyRequest, platform: Platform, instanceId: string, keys?: EncryptionKeys): Promise<void> {
  const given = KEY_REQUEST_FIELDS.filter((field) => request[field] !== undefined);
  if (given.length > 0 && platform === 'windows') {
    throw bad(
      given[0]!,
      `${instanceId} is a Windows instance: its reset turns password generation back on for the Administrator password and places no SSH key, so ${given.join(', ')} cannot be used`,
    );
  }
  if (request.kmsKeyId === undefined || !keys) return;
  const key = await keys.describeKey(request.kmsKeyId);
  if (key === 'not-found') throw bad('kmsKeyId', `KMS key ${request.kmsKeyId} does not exist (or is in another region)`);
  if (key !== 'access-denied' && key.state !== 'Enabled') throw bad('kmsKeyId', `KMS key ${request.kmsKeyId} is ${key.state}, not Enabled`);
}
