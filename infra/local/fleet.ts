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
