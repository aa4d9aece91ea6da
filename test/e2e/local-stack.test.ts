/**
 * `npm start`'s stack through its HTTP API, as a new user would use it: start it, post a reset,
 * stop the service half-way, start it again, and see the job finish (state survives on disk).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSshKeyPair } from '../../infra/aws/ssh-key-pair';
import { http, startService, stopService, waitFor } from './local-service';

describe('npm start, used as a new user would', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'reset-access-e2e-'));
  const children: ChildProcess[] = [];
  afterAll(async () => {
    await Promise.all(children.map(stopService));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('prints the samples and a curl line, refuses bad requests, and finishes a reset across a restart', async () => {
    // Prepare
    const first = await startService(dataDir, true);
    let { port } = first;
    children.push(first.child);
    expect(first.output()).toContain('i-0a1b2c3d4e5f60001');
    expect(first.output()).toContain(`curl -s -X POST http://127.0.0.1:${port}/resets`);

    // Act: bad requests first, then a real one
    const malformed = await http(port, 'POST', '/resets', { instanceId: 'nope' });
    const spot = await http(port, 'POST', '/resets', { instanceId: 'i-0a1b2c3d4e5f60005' });
    const started = await http(port, 'POST', '/resets', { instanceId: 'i-0a1b2c3d4e5f60001' });
    const again = await http(port, 'POST', '/resets', { instanceId: 'i-0a1b2c3d4e5f60001' });
    const jobId = started.json.jobId as string;
    await waitFor('the root volume to leave the target', async () => {
      const { json } = await http(port, 'GET', `/resets/${jobId}`);
      return json.phases.some((p: { name: string; status: string }) => p.name === 'detach-root') ? true : undefined;
    });
    await stopService(first.child);
    const second = await startService(dataDir, false);
    children.push(second.child);
    port = second.port;
    const finished = await waitFor('the job to finish after the restart', async () => {
      const { json } = await http(port, 'GET', `/resets/${jobId}`);
      return json.status === 'SUCCEEDED' || json.status === 'FAILED' ? json : undefined;
    });

    // Assess
    expect(malformed.status).toBe(400);
    expect(malformed.json.message).toMatch(/^instanceId:/);
    expect(spot.status).toBe(422);
    expect(spot.json.code).toBe('SPOT_INSTANCE');
    expect(started.status).toBe(202);
    expect(again.status).toBe(409);
    expect(again.json.activeJobId).toBe(jobId);
    expect(finished.status).toBe('SUCCEEDED');
    expect(finished.outputs.sshKeyParameter).toBe('/ec2rl/openssh/i-0a1b2c3d4e5f60001/key');
    const listed = await http(port, 'GET', '/resets?instanceId=i-0a1b2c3d4e5f60001');
    expect(listed.json.jobs.map((j: { jobId: string }) => j.jobId)).toEqual([jobId]);
  });
});

/** Every file under `dir`, read as text. */
function filesUnder(dir: string): Array<{ path: string; text: string }> {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name))
    .map((path) => ({ path, text: readFileSync(path).toString('latin1') }));
}

describe("the caller's own public key through the API", () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'reset-access-e2e-key-'));
  const children: ChildProcess[] = [];
  afterAll(async () => {
    await Promise.all(children.map(stopService));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('puts it for the named account by the volume swap, and no private key is anywhere in the state directory or the logs', async () => {
    // Prepare: the caller's key pair; only its public line is sent. A fresh stack holds no private key.
    const mine = generateSshKeyPair('ed25519', 'me@laptop');
    const service = await startService(dataDir, true);
    const { port } = service;
    children.push(service.child);

    // Act
    const started = await http(port, 'POST', '/resets', { instanceId: 'i-0a1b2c3d4e5f60001', user: 'ec2-user', publicKey: mine.publicKey });
    const finished = await waitFor('the job to finish', async () => {
      const { json } = await http(port, 'GET', `/resets/${started.json.jobId}`);
      return json.status === 'SUCCEEDED' || json.status === 'FAILED' ? json : undefined;
    });
    await stopService(service.child);

    // Assess
    expect(started.status).toBe(202);
    expect(finished.status).toBe('SUCCEEDED');
    expect(finished.outputs).toMatchObject({
      sshUser: 'ec2-user',
      authorizedKeysFile: '/home/ec2-user/.ssh/authorized_keys',
      sshKeyFingerprint: mine.fingerprint,
    });
    expect(finished.outputs.sshKeyParameter).toBeUndefined();
    const state = filesUnder(dataDir);
    expect(state.length).toBeGreaterThan(0);
    // The caller's key is on the volume; nothing private, nor a key parameter, anywhere.
    expect(state.some((f) => f.text.includes(mine.publicKey.split(' ')[1]!))).toBe(true);
    expect(state.filter((f) => /PRIVATE KEY|\/ec2rl\/openssh\//.test(f.text)).map((f) => f.path)).toEqual([]);
    expect(service.output()).not.toMatch(/PRIVATE KEY|\/ec2rl\/openssh\//);
  });
});
