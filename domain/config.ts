import type { PhaseName, Platform } from './job/job';

/**
 * Settings of the service. Defaults come from the timings in docs/aws-facts.md#timings (sources there and in
 * `infra/sim/timings.ts`); every one can be overridden by the environment (see infra/wiring/config.ts).
 */
export interface ServiceConfig {
  region: string;
  /**
   * This deployment's id, `<service>-<stage>` (serverless.yml sets it): everything the service makes
   * is tagged with it, and a deployment finds, reuses and reclaims only what carries its own, so
   * that two stages in one account and region leave each other alone.
   */
  deployment: string;
  /** Instance profile name the helper runs with (the SSM agent's Run Command actions and PutParameter of /ec2rl/openssh/i-…/key, serverless.yml). */
  helperInstanceProfile: string;
  helperImageParameter: Record<Platform, string>;
  /**
   * Windows targets taken offline go first to a LINUX helper, whose NTFS rescue script
   * (infra/scripts/ntfs-rescue.sh) makes the launch agent's edit without waiting for Windows to boot;
   * a volume it refuses falls back to the Windows helper (domain/pipeline/phases/windows-fallback.ts).
   * `helperImage`: the Linux helper's image, an SSM parameter naming an AMI (public `/aws/service/…`
   * or the account's own under `/reset-access/`) or an AMI id. It needs ntfs-3g, libhivex-bin (for
   * volumes with several launch agents) and the SSM agent (docs/ntfs-rescue.md#the-helper-image);
   * without ntfs-3g the script refuses (`NTFS3G_MISSING`) and every Windows reset falls back.
   * Marketplace roots skip it (they attach only to a stopped helper; the Windows helper does them).
   */
  windowsFastPath: { enabled: boolean; helperImage: string };
  /**
   * Stopped Windows helpers kept ready in the rescue network for the fallback: one is started (a
   * later boot, minutes) instead of a new one launched (a first boot, ≈ 15 min). `size` per
   * availability zone listed; 0 keeps none. The sweeper launches, warms (first boot, then stop) and
   * retires them (domain/sweeper/helper-pool.ts). A stopped instance costs its EBS volumes only
   * (docs/aws-facts.md#windows-helper-pool). Only jobs that use the rescue network (`CreateNewVPC`)
   * take one.
   */
  windowsHelperPool: { size: number; availabilityZones: string[]; instanceType: string };
  defaultHelperInstanceType: string;
  /** Instance types a request may ask for (the runbook's EC2RescueInstanceType and newer ones). */
  allowedHelperInstanceTypes: string[];
  /** Default VPC quota per region; the check before a rescue VPC is made compares against it. */
  vpcQuota: number;
  /** The shared rescue network (one VPC per region, a subnet per AZ used). */
  rescueNetwork: {
    /**
     * How helpers reach SSM: through an internet gateway (public IPv4 per helper), or through
     * interface endpoints for ssm, ssmmessages and ec2messages (no internet access at all; each
     * endpoint costs per hour while the network exists).
     */
    access: 'internet-gateway' | 'vpc-endpoints';
    /** The network is reclaimed once no job has held it for this long. */
    idleSeconds: number;
    /** How long a job may hold the right to call CreateVpc (it has no ClientToken) before another may. */
    creationLockSeconds: number;
  };
  /** The sweeper: stalled and overdue jobs, orphaned helpers, idle rescue networks. */
  sweeper: {
    /** Helpers younger than this are left alone whatever their job says. */
    graceSeconds: number;
    /** A running phase whose attempt has not moved for this long is re-driven. */
    stalledAfterSeconds: number;
    /** A RUNNING job older than this is rolled back, whatever phase it is in. */
    jobDeadlineSeconds: number;
    /** Longest a run waits in all for a detach, an attach or an endpoint deletion before leaving it to the next run. */
    maxWaitSeconds: number;
    /** Between two looks while it waits. */
    pollSeconds: number;
    /** Report what would be done; change nothing. */
    dryRun: boolean;
  };
  /** Longest a phase may run (seconds) before the job rolls back; by default its declared `deadlineSeconds` (domain/pipeline/phases/). */
  phaseDeadlineSeconds: Partial<Record<PhaseName, number>>;
  /** Windows helpers and targets boot far slower (≥ 15 min first boot, docs/aws-facts.md#windows-password-reset). */
  windowsLaunchDeadlineSeconds: number;
  /** Stop escalation: second stop after this long in `stopping`, force-stop after the second. */
  stopEscalationSeconds: [number, number];
  /** First and longest delay between polls of one phase. */
  pollSeconds: {
    /** By default the phase's declared `firstPollSeconds`, else `defaultFirst`. */
    first: Partial<Record<PhaseName, number>>;
    defaultFirst: number;
    max: number;
    factor: number;
    /**
     * Re-checks of a wait that an AWS event ends (a stop, a launch until `running`, the rescue
     * command, a start): the event wakes the phase at once (domain/pipeline/wake-jobs.ts); these re-checks
     * are for events that never come, AWS sending them best effort.
     */
    afterEvent: { first: number; max: number };
    /**
     * launch-helper's first look at a new helper's SSM agent, counted from when the helper was seen
     * `running`: no event reports the agent, and a look before it can be Online only costs a call.
     */
    helperAgentFirstLook: number;
    /**
     * The longest gap between two looks at a helper's agent: the job waits on it (a Windows helper
     * takes minutes to boot), so a look at most this often bounds how late the job notices it.
     */
    helperAgentMaxGap: number;
  };
  /**
   * Backoff after AWS throttled a phase's call: "full jitter", uniform up to `min(max, base · 2^n)`
   * for the n-th throttle in a row. Throttling never counts against `maxRetries` nor the phase's
   * deadline: it costs time, and only the sweeper's job deadline bounds it.
   */
  throttleBackoff: { baseSeconds: number; maxSeconds: number };
  /** Consecutive retryable errors in one phase before it counts as permanent (throttling aside). */
  maxRetries: number;
  /** How long a lock whose job record never appeared is kept before another request may take it. */
  orphanLockSeconds: number;
  /** Longest a phase handler runs (the phase functions' timeout): rollback waits this long first. */
  inFlightSettleSeconds: number;
  /** Run Command timeout for the rescue script. */
  rescueTimeoutSeconds: number;
  /** The online reset (Run Command on the target itself). */
  online: {
    /** SendCommand `TimeoutSeconds`: an Online agent picks a command up at once; one that does not is gone. */
    deliveryTimeoutSeconds: number;
    /** `executionTimeout` of the script on the target (it reads a few files and appends a line). */
    executionTimeoutSeconds: number;
    /** After this long the attempt is given up (falls over to the swap in auto), before the phase deadline. */
    attemptSeconds: number;
    /** Windows: how long after the reboot GetPasswordData may take to have the new password. */
    windowsPasswordSeconds: number;
    /** Windows: how often GetPasswordData is asked after the reboot (no event reports a password). */
    windowsPasswordPollSeconds: number;
  };
  /**
   * Opt-in guards: tags (value `true`) an instance must carry before a reset of it starts.
   * - `requireAllowedTag`: every reset, from any entry point, needs `reset-access:allowed=true`
   *   (on by default: `execute-api:Invoke` alone must not reach every instance of the account; the
   *   deployed roles carry the same condition in IAM, infra/deploy/grants.ts, and turning it off
   *   takes the deployment parameter `requireAllowedTag=false`, which drops both).
   * - `requireAutoTagForEvents`: resets an event starts (a CloudWatch alarm, a `Reset Access
   *   Requested` event) need `reset-access:auto=true` (on by default: nobody asked in person).
   */
  optIn: { requireAllowedTag: boolean; requireAutoTagForEvents: boolean };
  /**
   * Who may reset what (domain/api/access.ts): when set, a caller may start, read, list and cancel only
   * resets of instances whose tag `access.tag` has the caller's value, from its IAM role's tag of
   * that name (`source: 'principal-tag'`, read from IAM and cached `principalTagsCacheSeconds`) or
   * from `mapping`. Unset: whoever the API lets in may reset any instance that opted in.
   */
  access?: AccessRule;
  /** How long a caller's IAM tags are remembered (seconds) before they are read again. */
  principalTagsCacheSeconds: number;
  /** At most one alarm-started reset per instance within this window (seconds). */
  alarmCooldownSeconds: number;
  /**
   * Admission of event-started resets across the fleet (a token bucket): `burst` at once, then
   * `ratePerMinute`. An alarm storm (an AZ impairment) must not start hundreds of stops at once;
   * what is over the rate waits its turn instead of being dropped.
   */
  eventAdmission: { ratePerMinute: number; burst: number };
  /**
   * Admission of API-started resets (the same kind of token bucket, its own): a start over the rate
   * is answered 429 with `retry-after` before the preflight reads anything, instead of reading,
   * being throttled by EC2 halfway, and answering a 503 whose retry reads it all again.
   */
  apiAdmission: { ratePerMinute: number; burst: number };
  /**
   * API start requests that started nothing (refused: unknown instance, preflight refusal, an
   * active job; or an idempotent replay) give their `apiAdmission` slot back, so that refusals do
   * not use up the start rate; this bucket paces them instead, for the preflight reads they cost.
   * Over it a start request is answered 429 `TOO_MANY_REQUESTS` before anything is read.
   */
  apiReadAdmission: { ratePerMinute: number; burst: number };
  /**
   * The service's own pacing of its calls into EC2's scarcest request buckets (domain/admission/request-pacing.ts):
   * a token bucket like each of EC2's, that a call takes its slot from before it is sent. `scope`
   * says how EC2 shares them in this account: one per row of the table, or one per action.
   */
  requestPacing: PacingPolicy;
  /**
   * Stops shared while the mutating bucket has a queue (domain/pipeline/stop-batches.ts): a stop whose
   * request slot is not now joins the open batch, and one StopInstances stops them all at its slot.
   * `maxInstances` per StopInstances; `enabled: false` sends one StopInstances per job.
   */
  stopBatching: { enabled: boolean; maxInstances: number };
  /** How long an API `Idempotency-Key` is remembered (seconds). */
  idempotencyTtlSeconds: number;
}

const minutes = (n: number) => n * 60;

/**
 * The API's start rate that suits how the account's EC2 buckets are shared (`requestPacing.scope`):
 * as many new resets a minute as the bucket that limits a fleet carries, and a little more for the
 * ramp (in a fleet's first minute only stops use the mutating bucket). Admitting faster only makes
 * jobs wait in that bucket's queue: each reset's targets stay down longer, the fleet is not done
 * sooner (`npm run bench`: at 120/min p95 431 s; at 65/min p95 307 s, the same makespan).
 * - `category` (docs/aws-facts.md#api-start-rate table: one mutating bucket, 5/s = 300 a minute): a Linux reset makes
 *   about 6.5 mutating requests (stops shared, domain/pipeline/stop-batches.ts), so ≈ 46 resets a minute;
 *   65 keeps the bucket busy through the ramp.
 * - `action` (a bucket per action): each action's mutating bucket is far from full; RunInstances'
 *   own (2/s) carries one helper per reset, 120 a minute.
 * A burst of 50 is answered at once; a start's preflight reads (about five Describe* calls, 100 at
 * once then 20/s) are retried by the SDK when throttled (infra/aws/clients.ts).
 */
export function defaultApiAdmission(scope: PacingPolicy['scope']): { ratePerMinute: number; burst: number } {
  return { ratePerMinute: scope === 'action' ? 120 : 65, burst: 50 };
}

export const defaultConfig: ServiceConfig = {
  region: 'us-east-1',
  deployment: 'ec2-reset-access-local',
  helperInstanceProfile: 'reset-access-helper',
  helperImageParameter: {
    linux: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
    windows: '/aws/service/ami-windows-latest/Windows_Server-2022-English-Full-Base',
  },
  // Canonical's public parameter (docs/ntfs-rescue.md#the-helper-image): whether its image ships
  // ntfs-3g is not verified; a baked image (the one-command bake there) is the recommended value.
  windowsFastPath: { enabled: true, helperImage: '/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id' },
  windowsHelperPool: { size: 0, availabilityZones: [], instanceType: 't3.small' },
  defaultHelperInstanceType: 't3.small',
  allowedHelperInstanceTypes: ['t2.small', 't2.medium', 't2.large', 't3.small', 't3.medium', 't3.large', 'm5.large', 'c5.large'],
  vpcQuota: 5,
  rescueNetwork: {
    access: 'internet-gateway',
    idleSeconds: minutes(60),
    // CreateVpc answers in about a second; two minutes covers a slow call and its retries.
    creationLockSeconds: 120,
  },
  sweeper: {
    graceSeconds: minutes(15),
    // Three times the longest poll delay (pollSeconds.max): the phase has missed at least two of
    // its own polls. A re-drive of a phase that was only slow is dropped by the attempt check.
    stalledAfterSeconds: minutes(3),
    // A backstop behind the phase deadlines: longer than those of the longest plan end to end
    // (Windows: about 4 h 5 min), so that only a job that is not progressing reaches it.
    jobDeadlineSeconds: minutes(6 * 60),
    // The sweeper function's timeout is 300 s (serverless.yml); detach/attach take ≈ 5 s and an
    // endpoint deletion a minute or two (docs/aws-facts.md#timings, infra/sim/timings.ts).
    maxWaitSeconds: 90,
    pollSeconds: 5,
    dryRun: false,
  },
  // Each phase's is declared with it (domain/pipeline/phases/); set one here to override it.
  phaseDeadlineSeconds: {},
  windowsLaunchDeadlineSeconds: minutes(40),
  stopEscalationSeconds: [minutes(5), minutes(10)],
  pollSeconds: {
    // Each phase's is declared with it (domain/pipeline/phases/); set one here to override it.
    first: {},
    defaultFirst: 5,
    max: 60,
    factor: 1.5,
    // Longer than a typical stop ("a few minutes", ≈ 1 min for small instances): the event comes
    // first. The longest (+10 % jitter) stays under sweeper.stalledAfterSeconds, so that the
    // sweeper does not re-drive a healthy wait.
    afterEvent: { first: 90, max: 120 },
    // docs/aws-facts.md#timings: the agent shows Online 30 s to several minutes after boot (user reports).
    helperAgentFirstLook: 30,
    // One DescribeInstanceInformation every 20 s at most (SSM's own bucket, not EC2's): a Windows
    // helper's 15 minutes cost ≈ 45 looks, and the job notices its agent ≤ 20 s late.
    helperAgentMaxGap: 20,
  },
  // SQS delays are whole seconds; 2 s doubles to the 60 s cap in five throttles. EC2's buckets
  // refill every second (docs/aws-facts.md#throttling-errors-and-retries): a fleet keeps each one busy without hammering it.
  throttleBackoff: { baseSeconds: 2, maxSeconds: 60 },
  maxRetries: 8,
  orphanLockSeconds: 300,
  inFlightSettleSeconds: 60,
  rescueTimeoutSeconds: 600,
  // SSM's floor for TimeoutSeconds is 30 s; delivery to an Online agent takes a second or two.
  // Windows: a reboot takes minutes and the launch agent's password work is part of it; "it can
  // take up to 15 minutes" for a new Windows instance's password (AWS SDK docs, Lightsail
  // InstanceAccessDetails.passwordData; docs/aws-facts.md#windows-password-reset: first boot often ≥ 15 min): 20 min, every 30 s.
  online: {
    deliveryTimeoutSeconds: 60,
    executionTimeoutSeconds: 120,
    attemptSeconds: 240,
    windowsPasswordSeconds: minutes(20),
    windowsPasswordPollSeconds: 30,
  },
  optIn: { requireAllowedTag: true, requireAutoTagForEvents: true },
  // A role's tags change rarely; a change reaches the API within 5 minutes (each cold start reads afresh).
  principalTagsCacheSeconds: 300,
  alarmCooldownSeconds: 6 * 3600,
  // RunInstances refills at 2/s per account (docs/aws-facts.md#ec2-request-throttling) and each reset launches one helper and
  // makes a stop, an image and a handful of attach/detach calls over minutes: 10 new resets a
  // minute leaves the account's EC2 buckets to everything else.
  eventAdmission: { ratePerMinute: 10, burst: 10 },
  apiAdmission: defaultApiAdmission('category'),
  // A refused start reads about five Describe* calls (one for an unknown instance); 120 a minute is
  // at most 10 a second of the non-mutating bucket's refill of 20 a second, the starts' own ≈ 5
  // a second besides (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html).
  apiReadAdmission: { ratePerMinute: 120, burst: 50 },
  // EC2's own rates (docs/aws-facts.md#ec2-request-throttling): mutating 50 at once then 5/s, RunInstances +
  // StartInstances 5 then 2/s. Half of the mutating burst, and 2 of the 5 launches, are left to the
  // account's other callers and to calls sent a little after their slot (a late call can bunch with
  // the next). Lower the rates to leave more; raise them with a raised EC2 limit.
  requestPacing: { scope: 'category', mutating: { ratePerMinute: 300, burst: 25 }, runStart: { ratePerMinute: 120, burst: 3 } },
  // StopInstances takes a list of instance ids (EC2 API reference, StopInstances: `InstanceIds`);
  // 50 keeps a refused request (which every member then repeats alone) small.
  stopBatching: { enabled: true, maxInstances: 50 },
  idempotencyTtlSeconds: 24 * 3600,
};

export interface AccessRule {
  /** The instance tag whose value must be the caller's (e.g. `team`). */
  tag: string;
  /** Where the caller's value comes from: its role's (or user's) tag `tag`, or `mapping`. */
  source: 'principal-tag' | 'mapping';
  /**
   * Principal ARN patterns (`*` any run of characters, `?` one) and their value; the first match
   * wins. A caller's assumed-role session ARN is also matched as its role's ARN
   * (`arn:aws:iam::<account>:role/<name>`).
   */
  mapping?: Array<{ principal: string; value: string }>;
}

export interface AdmissionPolicy {
  ratePerMinute: number;
  burst: number;
}

/**
 * How the mirrored buckets are shared: one per row of the table (`category`, docs/aws-facts.md#ec2-request-throttling and the
 * EC2 API reference's older wording), or one per action of its row's size (`action`, the EC2
 * Developer Guide's current "each API is evaluated individually"). See infra/sim/throttling.ts.
 */
export type PacingScope = 'category' | 'action';

export interface PacingPolicy {
  scope: PacingScope;
  mutating: AdmissionPolicy;
  runStart: AdmissionPolicy;
}
