/**
 * The release command against a real NTFS image mounted by ntfs-3g, as the NTFS rescue leaves a
 * volume it could not unmount: it unmounts, waits for the ntfs-3g process to exit and says so; a
 * mount it cannot undo (a file held open on it) is reported STILL_MOUNTED and left as it is; a
 * volume the helper does not see is released at once. Needs root, /dev/fuse and ntfs-3g (as the
 * NTFS rescue's disk tests).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { buildNtfsReleaseCommands, parseNtfsReleaseSummary, type NtfsReleaseSummary } from '../../infra/scripts/ntfs-release';
import { ec2LaunchV2Volume, V2_DEFAULT } from '../fixtures/windows-volumes';
import { DiskLab } from './support/disk-lab';
import { buildNtfsVolume, ntfsTestsUnavailable, type NtfsVolume } from './support/ntfs-lab';
import { nitroDevRoot } from './support/rescue-runner';

const unavailable = ntfsTestsUnavailable();
if (unavailable) console.warn(`ntfs-release.disk.test.ts skipped: ${unavailable}`);
const describeOnNtfs = unavailable ? describe.skip : describe;

const VOLUME_ID = 'vol-0aaaaaaaaaaaaaaaa';

describeOnNtfs('ntfs-release.sh on a real NTFS image', () => {
  let lab: DiskLab;
  let volume: NtfsVolume;
  let mountPoint: string;

  /** ntfs-3g mounts the partition read-write, as the NTFS rescue does; its pid. */
  const mountWithNtfs3g = (): number => {
    fs.mkdirSync(mountPoint, { recursive: true });
    const r = spawnSync('ntfs-3g', ['-o', 'rw,norecover', volume.partition, mountPoint], { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`ntfs-3g failed (${r.status})`);
    return ntfs3gPid()!;
  };
  const ntfs3gPid = (): number | undefined => {
    for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        if (cmd[0]?.includes('ntfs-3g') && cmd.includes(mountPoint)) return Number(pid);
      } catch {
        // gone meanwhile
      }
    }
    return undefined;
  };
  const mounted = () =>
    fs
      .readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .some((line) => line.split(' ')[1] === mountPoint);

  const release = (devRoot: string): { status: number; summary: NtfsReleaseSummary; stderr: string } => {
    const commandFile = lab.path(`release-${Date.now()}.sh`);
    fs.writeFileSync(commandFile, `${buildNtfsReleaseCommands({ jobId: 'job-release', volumeId: VOLUME_ID }).join('\n')}\n`);
    const out = lab.path('release.out');
    const err = lab.path('release.err');
    const o = fs.openSync(out, 'w');
    const e = fs.openSync(err, 'w');
    try {
      const r = spawnSync('/bin/sh', [commandFile], {
        env: { ...(process.env as Record<string, string>), RA_DEV_ROOT: devRoot, RA_NTFS_EXIT_WAIT_SECONDS: '30' },
        stdio: ['ignore', o, e],
        timeout: 60_000,
      });
      return { status: r.status ?? -1, summary: parseNtfsReleaseSummary(fs.readFileSync(out, 'utf8')), stderr: fs.readFileSync(err, 'utf8') };
    } finally {
      fs.closeSync(o);
      fs.closeSync(e);
    }
  };

  beforeAll(() => {
    lab = new DiskLab('ra-release-');
    volume = buildNtfsVolume(lab, 'mbr', ec2LaunchV2Volume(V2_DEFAULT));
    mountPoint = lab.path('left-mounted');
  });

  afterAll(() => {
    if (!lab) return;
    if (mounted()) spawnSync('umount', [mountPoint]);
    expect(lab.cleanup()).toEqual([]);
  });

  it('unmounts a volume ntfs-3g still has mounted and waits for ntfs-3g to exit', () => {
    // Prepare
    const pid = mountWithNtfs3g();
    const devRoot = nitroDevRoot(lab, VOLUME_ID, volume.loop, []);
    // Act
    const run = release(devRoot);
    // Assess
    expect(run.status).toBe(0);
    expect(run.summary).toEqual({ ok: true, script: 'ntfs-release', helper: 'linux', released: true, volumeId: VOLUME_ID, unmounted: [mountPoint] });
    expect(mounted()).toBe(false);
    expect(fs.existsSync(`/proc/${pid}`) && !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z')).toBe(false);
    // The volume is clean: it mounts read-write again (the probe finds no unclean journal or hibernation).
    expect(spawnSync('ntfs-3g.probe', ['--readwrite', volume.partition]).status).toBe(0);
  });

  it('reports STILL_MOUNTED, and leaves the mount, while something holds it open', () => {
    // Prepare
    mountWithNtfs3g();
    const held = fs.openSync(`${mountPoint}/Windows/System32/config/SYSTEM`, 'r');
    const devRoot = nitroDevRoot(lab, VOLUME_ID, volume.loop, []);
    let run;
    try {
      // Act
      run = release(devRoot);
    } finally {
      fs.closeSync(held);
    }
    // Assess
    expect(run.status).toBe(1);
    expect(run.summary).toMatchObject({ ok: false, released: false, error: 'STILL_MOUNTED' });
    expect(mounted()).toBe(true);
    // Once nothing holds it, a second release frees it.
    expect(release(devRoot).summary).toMatchObject({ ok: true, released: true });
    expect(mounted()).toBe(false);
  });

  it('releases at once a volume the helper does not see', () => {
    // Act
    const run = release(nitroDevRoot(lab, 'vol-0bbbbbbbbbbbbbbbb', volume.loop, []));
    // Assess
    expect(run.summary).toMatchObject({ ok: true, released: true, unmounted: [] });
  });
});
