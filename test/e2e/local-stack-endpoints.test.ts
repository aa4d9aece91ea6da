/**
 * No client of `npm start`'s stack reaches a real AWS endpoint: it refuses to start with one that
 * has no local endpoint (infra/local/local-stack.ts `assertLocalEndpoints`), and a reset of the
 * encrypted-root sample, whose preflight asks KMS about the key, runs against the simulated region
 * (it once answered 503 after `getaddrinfo ENOTFOUND kms.us-east-1.amazonaws.com`).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { http, startService, stopService, waitFor } from './local-service';

const ENCRYPTED = 'i-0a1b2c3d4e5f60003';

describe('npm start, offline by construction', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'reset-access-endpoints-'));
  const children: ChildProcess[] = [];
  afterAll(async () => {
    await Promise.all(children.map(stopService));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('resets the encrypted-root sample with KMS answered by the simulated region', async () => {
    // Prepare
    const service = await startService(dataDir, true);
    const { port } = service;
    children.push(service.child);

    // Act
    const started = await http(port, 'POST', '/resets', { instanceId: ENCRYPTED });
    const finished = await waitFor(
      'the job to end',
      async () => {
        const { json } = await http(port, 'GET', `/resets/${started.json.jobId}`);
        return json.status === 'SUCCEEDED' || json.status === 'FAILED' ? json : undefined;
      },
      120_000,
    );

    // Assess
    expect(started).toEqual({ status: 202, json: expect.objectContaining({ jobId: expect.any(String) }) });
    expect(finished.status).toBe('SUCCEEDED');
  }, 180_000);
});
