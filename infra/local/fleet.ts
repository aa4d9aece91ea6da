/**
 * A fleet of locked-out instances in a simulated region: the benchmark's 500 Linux resets at once
 * and the tests of fleet behaviour seed their targets here, the way `samples.ts` seeds the demo's.
 */
import { amazonLinux2023Files, lostPublicKey, withLoginUser } from '../sim/base-images';
import { PUBLIC_IMAGE_IDS, type SimulatedRegion } from '../sim/region';
import type { NtfsVolumeFlags } from '../sim/state';

export interface FleetOptions {
  /** How many instances. */
  count: number;
  /** Default `running` (a reset then stops and restarts each one). */
  state?: 'running' | 'stopped';
  /** Name tag prefix; default `fleet`. */
  namePrefix?: string;
  /** All in this zone instead of round-robin over the region's zones. */
  availabilityZone?: string;
}

/**
 * Seeds `count` Amazon Linux 2023 instances whose `ec2-user` lost its key, spread round-robin over
 * the region's availability zones unless one is given (each in its zone's default subnet). Answers
 * their ids in order.
 */
export function seedLinuxFleet(region: SimulatedRegion, options: FleetOptions): string[] {
  const zones = region.config.availabilityZones;
  const launchTime = region.clock.now() - 7 * 24 * 3600 * 1000;
  const ids: string[] = [];
  for (let i = 0; i < options.count; i++) {
    const name = `${options.namePrefix ?? 'fleet'}-${String(i).padStart(4, '0')}`;
    const files = withLoginUser(amazonLinux2023Files(), {
      user: 'ec2-user',
      uid: 1000,
      gid: 1000,
      gecos: 'EC2 Default User',
      groups: ['wheel', 'adm'],
      authorizedKeys: [lostPublicKey(name)],
    });
    const instance = region.seedInstance({
      imageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
      state: options.state ?? 'running',
      availabilityZone: options.availabilityZone ?? zones[i % zones.length],
      // Opted in, as the deployment requires by default.
      tags: { Name: name, 'reset-access:allowed': 'true' },
      launchTime,
      root: { files, deleteOnTermination: true },
    });
    ids.push(instance.instanceId);
  }
  return ids;
}

/**
 * One Windows Server 2022 instance, `running`, with the image's own files (EC2Launch v2) and
 * password generation already used up, as an instance whose administrator password was lost.
 */
export function seedWindowsTarget(region: SimulatedRegion, name = 'windows-target', ntfs?: NtfsVolumeFlags): string {
  const instance = region.seedInstance({
    imageId: PUBLIC_IMAGE_IDS.windowsServer2022,
    state: 'running',
    availabilityZone: region.config.availabilityZones[0],
    tags: { Name: name, 'reset-access:allowed': 'true' },
    launchTime: region.clock.now() - 7 * 24 * 3600 * 1000,
    // `ntfs`: what the NTFS rescue would find besides the files (BitLocker, hibernated…: it refuses).
    root: { deleteOnTermination: true, passwordGenerationEnabled: false, ...(ntfs ? { ntfs } : {}) },
  });
  return instance.instanceId;
}

/** A small seeded PRNG (mulberry32), so that a fleet run repeats. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The longest a fleet's client waits before repeating a request the API answered 429 or 503. */
const CLIENT_MAX_BACKOFF_SECONDS = 120;

/** How long a client waits before its `tries`-th repeat, as AWS's own clients do: the server's hint, doubling, full jitter. */
export function clientBackoffSeconds(retryAfter: string | number | boolean | undefined, tries: number, random: () => number): number {
  const after = Number(retryAfter ?? 5);
  const ceiling = Math.min(CLIENT_MAX_BACKOFF_SECONDS, after * 2 ** tries);
  return after + random() * Math.max(0, ceiling - after);
}
