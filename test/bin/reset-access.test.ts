/**
 * The CLI in process, against the real API routes served over HTTP by the in-process stack: its
 * "sleep" between two looks at a job moves simulated time on, so that `--wait` follows a whole
 * reset in milliseconds. Every command, `--json`, exit codes, usage errors; SigV4 signing checked
 * against a signature computed here from the request as received.
 */
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { main } from '../../bin/cli/main';
import { ApiClient } from '../../bin/cli/api-client';
import type { Io } from '../../bin/cli/commands';
import { regionOfApiUrl } from '../../bin/cli/sigv4';
import { routeApi } from '../../handlers/api-routes';
import { startApiServer } from '../../infra/local/api-server';
import { VirtualStack } from '../../infra/local/virtual-stack';
import { generateSshKeyPair } from '../../infra/aws/ssh-key-pair';

const AL2023 = 'i-0a1b2c3d4e5f60001';
const UBUNTU = 'i-0a1b2c3d4e5f60002';
const SPOT = 'i-0a1b2c3d4e5f60005';

interface Captured extends Io {
  stdout: string[];
  stderr: string[];
  lives: string[];
}

let stack: VirtualStack;
let server: Server;
let api: string;

beforeEach(async () => {
  stack = new VirtualStack();
  server = await startApiServer((event: APIGatewayProxyEventV2) => routeApi(event, stack.ports), { port: 0 });
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

/** An Io that records, and whose sleep lets the stack run on for 20 simulated seconds. */
function io(isTty = false): Captured {
  const captured: Captured = {
    stdout: [],
    stderr: [],
    lives: [],
    out: (text) => captured.stdout.push(text),
    err: (text) => captured.stderr.push(text),
    live: (text) => captured.lives.push(text),
    isTty,
    sleep: async () => {
      const until = stack.clock.now() + 20_000;
      await stack.run(20);
      if (stack.clock.now() < until) stack.clock.set(until);
    },
    now: () => stack.clock.now(),
  };
  return captured;
}

const run = (args: string[], out = io()) => main(args, out, { RESET_ACCESS_API: api, RESET_ACCESS_POLL_MS: '1' }).then((code) => ({ code, out }));

describe('start --wait', () => {
  it('prints a line per finished phase in the order they ended, the running phases when they change, and exits 0 with the outputs', async () => {
    // Act
    const { code, out } = await run(['start', AL2023, '--wait']);
    // Assess
    expect(code).toBe(0);
    const text = out.stdout.join('\n');
    expect(out.stdout[0]).toMatch(/^Started r-v\d+ for i-0a1b2c3d4e5f60001$/);
    const job = await stack.job(/Started (\S+)/.exec(out.stdout[0]!)![1]!);
    const endOrder = Object.entries(job.phases)
      .sort(([, a], [, b]) => Date.parse(a!.endedAt!) - Date.parse(b!.endedAt!))
      .map(([name]) => name);
    expect(out.stdout.filter((line) => line.startsWith('  ✓ ')).map((line) => line.trim().split(/\s+/)[1])).toEqual(endOrder);
    const live = out.stdout.filter((line) => line.startsWith('  … '));
    expect(live.length).toBeGreaterThan(3);
    expect(live.every((line, i) => i === 0 || line.split(' · ')[0] !== live[i - 1]!.split(' · ')[0])).toBe(true);
    expect(text).toMatch(/SUCCEEDED in \d+m\d{2}s: i-0a1b2c3d4e5f60001 has a new way in\./);
    expect(text).toContain(`aws ssm get-parameter --with-decryption --name /ec2rl/openssh/${AL2023}/key`);
    expect(text).toMatch(/backup AMI: +ami-/);
    expect(out.stderr).toEqual([]);
  });

  it('prints how to read the new Windows password after an online reset (a reboot, no AMI)', async () => {
    // Act
    const { code, out } = await run(['start', 'i-0a1b2c3d4e5f6000a', '--wait']);
    // Assess
    expect(code).toBe(0);
    const text = out.stdout.join('\n');
    expect(text).toContain('launch agents: EC2Launch v2');
    expect(text).toMatch(/password: +made at \S+Z, after the reboot/);
    expect(text).toContain('read it with:  aws ec2 get-password-data');
    expect(text).not.toContain('password AMI');
  });

  it('exits 1 and prints the reason and whether the instance was restored when the job fails', async () => {
    // Prepare: the rescue command fails on the helper.
    stack.region.faults.add({ service: 'ssm', action: 'SendCommand', asyncFailure: { message: 'mount failed' } });
    // Act
    const { code, out } = await run(['start', AL2023, '--wait']);
    // Assess
    expect(code).toBe(1);
    const text = out.stdout.join('\n');
    expect(text).toMatch(/FAILED after .+: \S+ in run-rescue/);
    expect(text).toContain('instance restored: yes (rolled back)');
    expect(text).toMatch(/✗ run-rescue .*failed/);
  });

  it('with --json prints the final job only on stdout and the progress on stderr', async () => {
    // Act
    const { code, out } = await run(['start', UBUNTU, '--wait', '--json']);
    // Assess
    expect(code).toBe(0);
    expect(out.stdout).toHaveLength(1);
    expect(JSON.parse(out.stdout[0]!)).toEqual(expect.objectContaining({ instanceId: UBUNTU, status: 'SUCCEEDED' }));
    expect(out.stderr.some((line) => line.startsWith('  ✓ validate'))).toBe(true);
  });

  it('on a terminal rewrites one live line instead of printing progress lines', async () => {
    // Act
    const { code, out } = await run(['start', AL2023, '--wait'], io(true));
    // Assess
    expect(code).toBe(0);
    expect(out.stdout.filter((line) => line.startsWith('  … '))).toEqual([]);
    expect(out.lives.filter((line) => line.startsWith('  … ')).length).toBeGreaterThan(3);
    expect(out.lives.at(-1)).toBe('');
  });
});

describe('the other commands', () => {
  it('start without --wait answers the job; the same --idempotency-key answers the same job again', async () => {
    // Act
    const args = ['start', AL2023, '--idempotency-key', 'once', '--mode', 'offline', '--subnet', 'SelectedInstanceSubnet', '--key-type', 'rsa', '--json'];
    const first = await run(args);
    const again = await run(args);
    // Assess
    expect([first.code, again.code]).toEqual([0, 0]);
    const job = JSON.parse(first.out.stdout[0]!) as { jobId: string };
    expect(JSON.parse(again.out.stdout[0]!).jobId).toBe(job.jobId);
    expect((await stack.job(job.jobId)).request).toEqual(expect.objectContaining({ mode: 'offline', subnet: 'SelectedInstanceSubnet', keyType: 'rsa' }));
  });

  it('--as names the caller to the local stack, which records it on the job', async () => {
    // Act
    const started = await run(['start', AL2023, '--as', 'arn:aws:sts::123456789012:assumed-role/team-a-operator/alice', '--json']);
    // Assess
    expect(started.code).toBe(0);
    const { jobId } = JSON.parse(started.out.stdout[0]!) as { jobId: string };
    expect((await stack.job(jobId)).requestedBy).toBe('arn:aws:sts::123456789012:assumed-role/team-a-operator/alice');
  });

  it("start --user --public-key-file sends the .pub file's line and shows the account, its file and the fingerprint, no private key", async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'ra-cli-key-'));
    const mine = generateSshKeyPair('ed25519', 'me@laptop');
    writeFileSync(join(dir, 'id_ed25519.pub'), `${mine.publicKey}\n`);
    try {
      // Act
      const { code, out } = await run(['start', UBUNTU, '--user', 'ubuntu', '--public-key-file', join(dir, 'id_ed25519.pub'), '--wait']);
      // Assess
      expect(code).toBe(0);
      const [job] = (await stack.store.list({})).jobs;
      expect(job!.request).toEqual(expect.objectContaining({ user: 'ubuntu', publicKey: mine.publicKey }));
      const printed = out.stdout.join('\n');
      expect(printed).toContain('\n  account:       ubuntu (/home/ubuntu/.ssh/authorized_keys)\n');
      expect(printed).toContain(`\n  fingerprint:   ${mine.fingerprint} (your own key: no private key was made)\n`);
      expect(printed).not.toMatch(/private key: |ssm get-parameter/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('start --public-key-file with a private key file exits 2 and sends nothing', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'ra-cli-key-'));
    writeFileSync(join(dir, 'id_ed25519'), generateSshKeyPair('ed25519', 'me').privateKey);
    try {
      // Act
      const { code, out } = await run(['start', UBUNTU, '--public-key-file', join(dir, 'id_ed25519')]);
      // Assess
      expect(code).toBe(2);
      expect(out.stderr.join('\n')).toMatch(/--public-key-file: .*id_ed25519 holds a private key; give its \.pub file \(nothing was sent\)/);
      expect((await stack.store.list({})).jobs).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('status shows the phases and the outcome; list filters and pages; instances shows what can be reset', async () => {
    // Prepare
    await run(['start', AL2023, '--wait']);
    await run(['start', UBUNTU]);
    const [latest, earlier] = (await stack.store.list({})).jobs;
    // Act
    const status = await run(['status', earlier!.jobId]);
    const page = await run(['list', '--limit', '1']);
    const succeeded = await run(['list', '--status', 'SUCCEEDED', '--json']);
    const instances = await run(['instances']);
    // Assess
    expect(status.out.stdout[0]).toMatch(/PHASE +STATUS +TOOK/);
    expect(status.out.stdout[0]).toMatch(/cleanup +done/);
    expect(page.out.stdout[0]).toContain(latest!.jobId);
    expect(page.out.stdout[0]).not.toContain(earlier!.jobId);
    expect(page.out.stdout[0]).toMatch(/more: reset-access list --cursor \S+/);
    expect(JSON.parse(succeeded.out.stdout[0]!).jobs.map((j: { jobId: string }) => j.jobId)).toEqual([earlier!.jobId]);
    expect(instances.out.stdout[0]).toMatch(new RegExp(`${SPOT} +spot-worker +running +linux +allowed,auto +no: SPOT_INSTANCE`));
    expect(instances.out.stdout[0]).toMatch(new RegExp(`${UBUNTU} .* no: job ${latest!.jobId} running`));
  });

  it('cancel rolls a running job back; an API refusal exits 1 with its code', async () => {
    // Prepare
    const started = await run(['start', AL2023, '--json']);
    const { jobId } = JSON.parse(started.out.stdout[0]!) as { jobId: string };
    await stack.run(60);
    // Act
    const cancelled = await run(['cancel', jobId]);
    const twice = await run(['cancel', jobId]);
    const refused = await run(['start', SPOT]);
    // Assess
    expect(cancelled.code).toBe(0);
    expect(cancelled.out.stdout[0]).toMatch(/ROLLING_BACK/);
    expect(twice.code).toBe(1);
    expect(twice.out.stderr[0]).toMatch(/JOB_NOT_RUNNING \(409\): .* \[request local-/);
    expect(refused.code).toBe(1);
    expect(refused.out.stderr[0]).toMatch(/SPOT_INSTANCE \(422\)/);
  });

  it.each([
    [['start'], /expected exactly one instanceId/],
    [['start', 'i-xyz'], /not an instance id/],
    [['status', 'job-1'], /not a job id/],
    [['list', '--colour'], /unknown option --colour/],
    [['list', '--limit'], /--limit needs a value/],
    [['list', '--limit', '--json'], /--limit needs a value/],
    [['list', '--json=yes'], /--json takes no value/],
    [['status', '-x'], /unknown option -x/],
    [['start', AL2023, '--wait', '--', '--json'], /expected exactly one instanceId/],
    [['reboot'], /unknown command reboot/],
    [[], /usage: reset-access <command>/],
  ])('exits 2 for %j', async (args, message) => {
    // Act
    const { code, out } = await run(args);
    // Assess
    expect(code).toBe(2);
    expect([...out.stderr, ...out.stdout].join('\n')).toMatch(message);
  });

  it("takes --name=value and prints a command's usage with --help", async () => {
    // Act
    const page = await run(['list', '--limit=1', '--json']);
    const help = await run(['start', '--help']);
    // Assess
    expect(page.code).toBe(0);
    expect(JSON.parse(page.out.stdout.join('\n')).jobs).toEqual([]);
    expect(help.code).toBe(0);
    expect(help.out.stdout[0]).toMatch(/^usage: reset-access start <instanceId> \[--wait\] \[--mode auto\|online\|offline\]/);
  });

  it('explains an API it cannot reach and exits 1', async () => {
    // Act
    const out = io();
    const code = await main(['list', '--api', 'http://127.0.0.1:9'], out, {});
    // Assess
    expect(code).toBe(1);
    expect(out.stderr[0]).toMatch(/cannot reach the API at http:\/\/127\.0\.0\.1:9 .*npm start, or --api <url>/);
  });
});

describe('SigV4 signing', () => {
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'session-token' };
  let capture: Server;
  let received: { method: string; url: string; headers: IncomingMessage['headers']; body: string } | undefined;

  beforeEach(async () => {
    capture = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received = { method: req.method!, url: req.url!, headers: req.headers, body };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      });
    });
    await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', resolve));
  });

  afterEach(() => new Promise((resolve) => capture.close(resolve)));

  /** The signature API Gateway would compute from the request as received (SigV4, execute-api). */
  function expectedSignature(request: NonNullable<typeof received>, region: string): { signature: string; credential: string } {
    const auth = /^AWS4-HMAC-SHA256 Credential=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(String(request.headers.authorization))!;
    const signedHeaders = auth[2];
    const amzDate = String(request.headers['x-amz-date']);
    const url = new URL(request.url, 'http://x');
    const query = [...url.searchParams.entries()]
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .join('&');
    const headers = signedHeaders!
      .split(';')
      .map((name) => `${name}:${String(request.headers[name]).trim()}\n`)
      .join('');
    const sha = (text: string) => createHash('sha256').update(text).digest('hex');
    const canonical = [request.method, url.pathname, query, headers, signedHeaders, sha(request.body)].join('\n');
    const scope = `${amzDate.slice(0, 8)}/${region}/execute-api/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha(canonical)].join('\n');
    const hmac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text).digest();
    const key = ['execute-api', 'aws4_request'].reduce(
      (k, part) => hmac(k, part),
      hmac(hmac(`AWS4${credentials.secretAccessKey}`, amzDate.slice(0, 8)), region),
    );
    return { signature: createHmac('sha256', key).update(toSign).digest('hex'), credential: `${credentials.accessKeyId}/${scope}` };
  }

  it('signs a request so that the signature computed from what arrived matches, with the session token', async () => {
    // Prepare
    const client = new ApiClient({ baseUrl: `http://127.0.0.1:${(capture.address() as AddressInfo).port}`, sign: 'always', region: 'eu-west-1', credentials });
    // Act
    await client.call('POST', '/resets', { body: { instanceId: AL2023 }, query: { dryRun: 'no', a: 'b c' }, headers: { 'idempotency-key': 'k-1' } });
    // Assess
    const request = received!;
    const signature = /Signature=([0-9a-f]{64})$/.exec(String(request.headers.authorization))?.[1];
    const credential = /Credential=([^,]+)/.exec(String(request.headers.authorization))?.[1];
    expect({ signature, credential }).toEqual(expectedSignature(request, 'eu-west-1'));
    expect(request.headers['x-amz-security-token']).toBe('session-token');
    expect(String(request.headers.authorization)).toMatch(/SignedHeaders=[^,]*host[^,]*idempotency-key/);
  });

  it('does not sign for an API on this machine, and signs for a deployed one in its region', async () => {
    // Prepare
    const local = new ApiClient({ baseUrl: `http://127.0.0.1:${(capture.address() as AddressInfo).port}`, credentials });
    // Act
    await local.call('GET', '/resets');
    const deployed = new ApiClient({ baseUrl: 'https://abc123.execute-api.ap-southeast-2.amazonaws.com', credentials });
    // Assess
    expect(received!.headers.authorization).toBeUndefined();
    expect(deployed.signs).toBe(true);
    expect(regionOfApiUrl(new URL('https://abc123.execute-api.ap-southeast-2.amazonaws.com/'))).toBe('ap-southeast-2');
    expect(regionOfApiUrl(new URL('https://resets.example.com/'))).toBeUndefined();
  });
});

describe('--wait over a flaky connection', () => {
  it('rides out a few failed looks at the job and still ends with the outcome', async () => {
    // Prepare: an API whose 2nd and 3rd looks at a job answer 503.
    let looks = 0;
    const flaky = await startApiServer(
      async (event: APIGatewayProxyEventV2) => {
        if (event.requestContext.http.method === 'GET' && ++looks >= 2 && looks <= 3)
          return { statusCode: 503, headers: {}, body: '{"code":"ThrottlingException","message":"slow down","requestId":"r"}' };
        return routeApi(event, stack.ports);
      },
      { port: 0 },
    );
    const out = io();
    // Act
    const code = await main(['start', AL2023, '--wait', '--api', `http://127.0.0.1:${(flaky.address() as AddressInfo).port}`], out, {
      RESET_ACCESS_POLL_MS: '1',
    });
    flaky.closeAllConnections();
    await new Promise((resolve) => flaky.close(resolve));
    // Assess
    expect(code).toBe(0);
    expect(out.stderr.filter((line) => /slow down; looking again/.test(line))).toHaveLength(2);
    expect(out.stdout.join('\n')).toMatch(/SUCCEEDED/);
  });
});

describe('a Windows reset that fell back from the Linux helper', () => {
  it("says why while it waits and in its status: the NTFS rescue's code and reason, and where the Windows helper came from", async () => {
    // Prepare: a Windows target the NTFS rescue refuses (BitLocker).
    const target = stack.region.seedInstance({
      imageId: 'ami-0b2022b22022b2200',
      state: 'running',
      keyName: 'win-ops',
      tags: { 'reset-access:allowed': 'true' },
      root: { deleteOnTermination: true, passwordGenerationEnabled: false, ntfs: { bitlocker: true } },
    }).instanceId;
    // Act
    const { code, out } = await run(['start', target, '--wait']);
    const status = await run(['status', (await stack.store.listByInstance(target)).jobs[0]!.jobId]);
    // Assess
    expect(code).toBe(0);
    expect(out.stdout.filter((line) => line.startsWith('  ↪ '))).toEqual([
      expect.stringMatching(/^ {2}↪ NTFS rescue on the Linux helper did not do it: BITLOCKER: .+, Windows helper i-[0-9a-f]+ \(launched\)$/),
    ]);
    expect(status.out.stdout.join('\n')).toMatch(/^fallback {4}NTFS rescue on the Linux helper did not do it: BITLOCKER: /m);
  });
});
