/**
 * `npm start` killed with `kill -9` in the middle of a job, twice, and started again on the same
 * state: the job resumes and ends as it would have (SUCCEEDED, the instance running on its own root
 * volume, the helper gone), because the simulated region is saved at every change before anyone
 * hears of it, never behind the job table. Also: `npm start` runs with the configuration a
 * deployment reads (`RESET_ACCESS_CONFIG`, `HELPER_INSTANCE_PROFILE`), and its state file is the
 * owner's alone (the simulated Parameter Store holds private keys).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PHASES } from '../../domain/pipeline/phases';
import type { RegionState } from '../../infra/sim/state';
import { http, killService, startService, stopService, waitFor } from './local-service';

const TARGET = 'i-0a1b2c3d4e5f60001';

describe('npm start, killed with kill -9 mid-job', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'reset-access-crash-'));
  const children: ChildProcess[] = [];
  afterAll(async () => {
    await Promise.all(children.map(stopService));
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('resumes the job after each restart on the same state and ends it as it would have', async () => {
    // Prepare: the deployment's settings, as npm start must honour them. The phase deadlines are
    // long: simulated time runs 30x, so on a busy machine a slow phase is not taken for a stuck one
    // (a job that does not resume still never ends, and fails the test).
    const config = { defaultHelperInstanceType: 't3.medium', phaseDeadlineSeconds: Object.fromEntries(PHASES.map((phase) => [phase, 10 * 3600])) };
    const env = { HELPER_INSTANCE_PROFILE: 'chaos-helper-profile', RESET_ACCESS_CONFIG: JSON.stringify(config) };
    let service = await startService(dataDir, true, env);
    let { port } = service;
    children.push(service.child);
    const started = await http(port, 'POST', '/resets', { instanceId: TARGET });
    const jobId = started.json.jobId as string;
    const phaseStarted = (name: string) => async () => {
      const { json } = await http(port, 'GET', `/resets/${jobId}`);
      return json.phases?.some((p: { name: string }) => p.name === name) ? true : undefined;
    };

    // Act: killed as soon as the job records that the volume left the target, and again once it is
    // being put back; each time started again on what was left on disk.
    for (const phase of ['attach-to-helper', 'restore-target']) {
      await waitFor(`${phase} to start`, phaseStarted(phase), 120_000, 20);
      await killService(service.child);
      service = await startService(dataDir, false, env);
      children.push(service.child);
      port = service.port;
    }
    const finished = await waitFor(
      'the job to end after the restarts',
      async () => {
        const { json } = await http(port, 'GET', `/resets/${jobId}`);
        return json.status === 'SUCCEEDED' || json.status === 'FAILED' ? json : undefined;
      },
      240_000,
    );
    await stopService(service.child);

    // Assess: what the job says, and what the simulated region holds.
    expect(started.status).toBe(202);
    expect({ status: finished.status, error: finished.error }).toEqual({ status: 'SUCCEEDED', error: undefined });
    const file = join(dataDir, 'sim-region.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const { state } = JSON.parse(readFileSync(file, 'utf8')) as { state: RegionState };
    const target = state.instances[TARGET]!;
    const root = Object.values(state.volumes).find((v) => v.attachment?.instanceId === TARGET && v.attachment.device === target.rootDeviceName);
    expect(target.state).toBe('running');
    expect(root?.attachment?.state).toBe('attached');
    // One helper, launched as configured, and gone.
    const helpers = Object.values(state.instances).filter((i) => i.iamInstanceProfile?.arn.endsWith(':instance-profile/chaos-helper-profile'));
    expect(helpers.map((i) => [i.instanceType, i.state])).toEqual([['t3.medium', 'terminated']]);
  }, 600_000);
});
