/**
 * The commands of `reset-access`. Each answers an exit code: 0 done (a waited-for job SUCCEEDED),
 * 1 the API refused or the job did not succeed, 2 a usage error (bin/reset-access.ts).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { JobView } from '../../domain/job/job-view';
import type { InstanceView } from '../../domain/api/list-instances';
import { ApiError, ApiUnreachableError, type ApiClient } from './api-client';
import { parseArgs, UsageError } from './args';
import { duration, fallbackLine, instanceTable, jobDetails, jobOutcome, jobTable, phaseLine } from './format';

export interface Io {
  /** A line to stdout / stderr. */
  out(text: string): void;
  err(text: string): void;
  /** Whether stdout is a terminal: then the progress line rewrites itself in place. */
  isTty: boolean;
  /** Rewrites the live line in place (terminals only); `''` clears it. */
  live(text: string): void;
  sleep(ms: number): Promise<void>;
  now(): number;
}

export interface CommandContext {
  api: ApiClient;
  io: Io;
  json: boolean;
  /** Between two looks at a job while waiting. */
  pollMs: number;
}

interface StartAccepted {
  jobId: string;
  status: string;
  instanceId: string;
}

const INSTANCE_ID = /^i-[0-9a-f]{8}([0-9a-f]{9})?$/;

/**
 * The one public key line of a `.pub` file. A private key file given by mistake is refused here,
 * before anything is sent; the API checks the line itself.
 */
function readPublicKeyFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--public-key-file: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (text.includes('PRIVATE KEY')) throw new UsageError(`--public-key-file: ${path} holds a private key; give its .pub file (nothing was sent)`);
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines.length !== 1) throw new UsageError(`--public-key-file: ${path} must hold one public key line, not ${lines.length}`);
  return lines[0]!.trim();
}
/** Consecutive failed looks at a job (API unreachable or 5xx) `--wait` rides out before it gives up. */
const MAX_TRANSIENT_FAILURES = 5;
const JOB_ID = /^r-[0-9a-z]{6,40}$/;

export const COMMANDS: Record<
  string,
  { usage: string; flags: string[]; valued: string[]; run: (ctx: CommandContext, args: ReturnType<typeof parseArgs>) => Promise<number> }
> = {
  start: {
    usage:
      'start <instanceId> [--wait] [--mode auto|online|offline] [--subnet CreateNewVPC|SelectedInstanceSubnet|subnet-…] [--helper-type t3.small] [--key-type ed25519|rsa] [--user NAME] [--public-key-file FILE.pub] [--kms-key-id KEY] [--allow-instance-store-loss] [--idempotency-key K]',
    flags: ['wait', 'allow-instance-store-loss'],
    valued: ['mode', 'subnet', 'helper-type', 'key-type', 'user', 'public-key-file', 'kms-key-id', 'idempotency-key'],
    async run(ctx, { positionals, options }) {
      const instanceId = one(positionals, 'instanceId');
      if (!INSTANCE_ID.test(instanceId)) throw new UsageError(`${instanceId} is not an instance id (like i-0123456789abcdef0)`);
      const body: Record<string, unknown> = { instanceId };
      if (typeof options.subnet === 'string') body.subnet = options.subnet;
      if (typeof options['helper-type'] === 'string') body.helperInstanceType = options['helper-type'];
      if (typeof options['key-type'] === 'string') body.keyType = options['key-type'];
      if (typeof options.mode === 'string') body.mode = options.mode;
      if (typeof options.user === 'string') body.user = options.user;
      if (typeof options['public-key-file'] === 'string') body.publicKey = readPublicKeyFile(options['public-key-file']);
      if (typeof options['kms-key-id'] === 'string') body.kmsKeyId = options['kms-key-id'];
      if (options['allow-instance-store-loss']) body.allowInstanceStoreLoss = true;
      // A key per invocation: a request the CLI repeats after a lost answer starts no second job.
      const key = typeof options['idempotency-key'] === 'string' ? options['idempotency-key'] : randomUUID();
      const { body: started } = await ctx.api.call<StartAccepted>('POST', '/resets', { body, headers: { 'idempotency-key': key } });
      if (!options.wait) {
        if (ctx.json) ctx.io.out(JSON.stringify(started, null, 2));
        else ctx.io.out(`Started ${started.jobId} for ${started.instanceId}. Follow it with: reset-access status ${started.jobId}`);
        return 0;
      }
      if (!ctx.json) ctx.io.out(`Started ${started.jobId} for ${started.instanceId}`);
      return waitFor(ctx, started.jobId);
    },
  },
  status: {
    usage: 'status <jobId> [--wait]',
    flags: ['wait'],
    valued: [],
    async run(ctx, { positionals, options }) {
      const jobId = jobIdOf(positionals);
      if (options.wait) return waitFor(ctx, jobId);
      const { body: job } = await ctx.api.call<JobView>('GET', `/resets/${jobId}`);
      ctx.io.out(ctx.json ? JSON.stringify(job, null, 2) : jobDetails(job));
      return 0;
    },
  },
  list: {
    usage: 'list [--instance i-…] [--status RUNNING|ROLLING_BACK|SUCCEEDED|FAILED] [--limit N] [--cursor C]',
    flags: [],
    valued: ['instance', 'status', 'limit', 'cursor'],
    async run(ctx, { positionals, options }) {
      none(positionals);
      const query = { instanceId: str(options.instance), status: str(options.status), limit: str(options.limit), cursor: str(options.cursor) };
      const { body } = await ctx.api.call<{ jobs: JobView[]; nextCursor?: string }>('GET', '/resets', { query });
      if (ctx.json) ctx.io.out(JSON.stringify(body, null, 2));
      else ctx.io.out(jobTable(body.jobs) + (body.nextCursor ? `\n\nmore: reset-access list --cursor ${body.nextCursor}` : ''));
      return 0;
    },
  },
  cancel: {
    usage: 'cancel <jobId>',
    flags: [],
    valued: [],
    async run(ctx, { positionals }) {
      const jobId = jobIdOf(positionals);
      const { body: job } = await ctx.api.call<JobView>('POST', `/resets/${jobId}/cancel`);
      ctx.io.out(
        ctx.json
          ? JSON.stringify(job, null, 2)
          : `${job.jobId} is ${job.status}: it rolls back what it changed. Follow it with: reset-access status ${job.jobId} --wait`,
      );
      return 0;
    },
  },
  instances: {
    usage: 'instances [--limit N] [--cursor C]',
    flags: [],
    valued: ['limit', 'cursor'],
    async run(ctx, { positionals, options }) {
      none(positionals);
      const { body } = await ctx.api.call<{ instances: InstanceView[]; nextCursor?: string }>('GET', '/instances', {
        query: { limit: str(options.limit), cursor: str(options.cursor) },
      });
      if (ctx.json) ctx.io.out(JSON.stringify(body, null, 2));
      else ctx.io.out(instanceTable(body.instances) + (body.nextCursor ? `\n\nmore: reset-access instances --cursor ${body.nextCursor}` : ''));
      return 0;
    },
  },
};

/**
 * Follows a job to its end: a line per finished phase, the running phases and the time waited on
 * a live line (rewritten on a terminal, printed when it changes otherwise), then the outcome.
 * With `--json`, progress goes to stderr and stdout gets the final job only.
 */
export async function waitFor(ctx: CommandContext, jobId: string): Promise<number> {
  const { io } = ctx;
  const progress = (text: string) => (ctx.json ? io.err(text) : io.out(text));
  const liveOnTty = io.isTty && !ctx.json;
  const started = io.now();
  const printed = new Set<string>();
  let lastLive = '';
  let failures = 0;
  for (;;) {
    let job: JobView;
    try {
      job = (await ctx.api.call<JobView>('GET', `/resets/${jobId}`)).body;
      failures = 0;
    } catch (error) {
      // The job runs on whatever the CLI's connection does: ride out a few transient failures.
      const transient = error instanceof ApiUnreachableError || (error instanceof ApiError && error.status >= 500);
      if (!transient || ++failures > MAX_TRANSIENT_FAILURES) throw error;
      io.err(`  (${error.message}; looking again)`);
      await io.sleep(ctx.pollMs * failures);
      continue;
    }
    const finished = job.phases
      .filter((p) => p.status !== 'running' && !printed.has(p.name))
      .sort((a, b) => Date.parse(a.endedAt ?? '') - Date.parse(b.endedAt ?? ''));
    if (liveOnTty && (finished.length > 0 || job.status === 'SUCCEEDED' || job.status === 'FAILED')) io.live('');
    for (const phase of finished) {
      printed.add(phase.name);
      progress(phaseLine(phase));
    }
    const fallback = fallbackLine(job);
    if (fallback && !printed.has('windowsFallback')) {
      printed.add('windowsFallback');
      progress(`  ↪ ${fallback}`);
    }
    if (job.status === 'SUCCEEDED' || job.status === 'FAILED') {
      io.out(ctx.json ? JSON.stringify(job, null, 2) : jobOutcome(job));
      return job.status === 'SUCCEEDED' ? 0 : 1;
    }
    const running = job.phases.filter((p) => p.status === 'running');
    const what = running.map((p) => `${p.name}${p.waitingFor ? ` (${p.waitingFor})` : ''}`).join(', ') || 'between phases';
    const live = `  … ${job.status === 'ROLLING_BACK' ? 'rolling back: ' : ''}${what}`;
    const elapsed = duration((io.now() - started) / 1000) || '0s';
    if (liveOnTty) io.live(`${live} · ${elapsed}`);
    else if (live !== lastLive) progress(`${live} · ${elapsed}`);
    lastLive = live;
    await io.sleep(ctx.pollMs);
  }
}

function one(positionals: string[], name: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected exactly one ${name}`);
  return positionals[0]!;
}

function none(positionals: string[]): void {
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
}

function jobIdOf(positionals: string[]): string {
  const jobId = one(positionals, 'jobId');
  if (!JOB_ID.test(jobId)) throw new UsageError(`${jobId} is not a job id (like r-mabc1234xyz)`);
  return jobId;
}

function str(value: string | true | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
