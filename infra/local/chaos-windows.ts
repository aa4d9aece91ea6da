/**
 * `npm run chaos` scenarios of the Windows fast path (docs/ntfs-rescue.md): the reset from a Linux
 * helper is the harness's `windows reset` (the fast path is on by default); these add its fallback
 * to a Windows helper, launched or from the warm pool, and the release of a volume whose unmount
 * failed. Every AWS call of each is faulted in every kind, as for the other scenarios.
 */
import { defaultConfig } from '../../domain/config';
import { serviceTags } from '../../domain/naming';
import { PUBLIC_IMAGE_IDS } from '../sim/region';
import type { NtfsVolumeFlags } from '../sim/state';
import type { ChaosScenario } from './chaos-harness';
import type { VirtualStack } from './virtual-stack';

/** The refused target's id (the harness's scenarios name their instance). */
const TARGET = 'i-0a1b2c3d4e5f6000f';
const POOLED = 'i-0a1b2c3d4e5f6000e';

/**
 * Over a Windows helper's first boot (15 min) the fallback looks at its agent every 20 s; one look
 * every 5 min keeps the scenario's calls (and so its runs) few, and still faults the looks.
 */
const FEWER_AGENT_LOOKS = { config: { pollSeconds: { ...defaultConfig.pollSeconds, helperAgentMaxGap: 300 } } };

function seedRefused(stack: VirtualStack, ntfs: NtfsVolumeFlags): void {
  stack.region.seedInstance({
    instanceId: TARGET,
    imageId: PUBLIC_IMAGE_IDS.windowsServer2022,
    state: 'running',
    availabilityZone: stack.region.config.availabilityZones[0],
    keyName: 'win-ops',
    tags: { 'reset-access:allowed': 'true' },
    root: { deleteOnTermination: true, passwordGenerationEnabled: false, ntfs },
  });
}

/**
 * A ready helper of the warm pool in the target's zone, as the sweeper leaves one: a Windows helper
 * that booted once and was stopped, tagged as the pool's, and its slot (written before the job starts,
 * once the wire plane's table exists).
 */
function seedPooledHelper(stack: VirtualStack): void {
  const zone = stack.region.config.availabilityZones[0]!;
  stack.region.seedInstance({
    instanceId: POOLED,
    imageId: PUBLIC_IMAGE_IDS.windowsServer2022,
    state: 'stopped',
    availabilityZone: zone,
    iamInstanceProfileName: stack.ports.config.helperInstanceProfile,
    tags: { Name: 'reset-access-pool-helper', ...serviceTags('pool-helper', stack.ports.config.deployment) },
  });
  stack.seed(() =>
    stack.helperPool.add({
      slotId: `${zone}-chaos-0`,
      availabilityZone: zone,
      state: 'ready',
      instanceId: POOLED,
      createdAt: new Date(stack.clock.now()).toISOString(),
    }),
  );
}

/** The NTFS rescue refuses the volume (BitLocker): a Windows helper is launched and does it. */
export const WINDOWS_FALLBACK: ChaosScenario = {
  name: 'windows fallback',
  instanceId: TARGET,
  arrange: (stack) => seedRefused(stack, { bitlocker: true }),
  stack: FEWER_AGENT_LOOKS,
};

/** The same with a stopped Windows helper in the warm pool: claimed, started, then terminated. */
export const WINDOWS_FALLBACK_POOL: ChaosScenario = {
  name: 'windows fallback pool',
  instanceId: TARGET,
  arrange: (stack) => {
    seedRefused(stack, { dynamicDisk: true });
    seedPooledHelper(stack);
  },
};

/** The NTFS rescue cannot unmount the volume after its edit: the release (a second unmount), then the fallback. */
export const WINDOWS_RELEASE: ChaosScenario = {
  name: 'windows release',
  instanceId: TARGET,
  arrange: (stack) => {
    seedRefused(stack, { unmountFails: 'once' });
    seedPooledHelper(stack);
  },
};

export const WINDOWS_FAST_PATH_SCENARIOS: readonly ChaosScenario[] = [WINDOWS_FALLBACK, WINDOWS_FALLBACK_POOL, WINDOWS_RELEASE];
