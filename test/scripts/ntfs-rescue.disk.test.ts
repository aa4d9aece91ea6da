/**
 * The NTFS rescue script against real NTFS images: loop devices with MBR and GPT tables, volumes
 * made with mkntfs and populated through ntfs-3g, a real SYSTEM hive, UTF-16 task files, and the
 * states Windows leaves a volume in (hibernated, dirty, unclean journal, BitLocker, dynamic disk)
 * written byte for byte. Every success is compared with the model the simulated region runs
 * (applyNtfsPasswordReset), every refusal leaves the image's bytes unchanged.
 *
 * Needs root, /dev/fuse and ntfs-3g libhivex-bin fdisk attr (which .ci/run installs). Where they are
 * missing the suite is skipped and says why.
 */
import fs from 'node:fs';
import type { NtfsRescueFailure, NtfsRescueSuccess } from '../../infra/scripts/ntfs-rescue';
import { file } from '../../infra/sim/base-images';
import { applyNtfsPasswordReset } from '../../infra/sim/ntfs-rescue-model';
import type { NtfsVolumeFlags } from '../../infra/sim/state';
import type { VolumeFiles } from '../../infra/sim/volume-files';
import { WINDOWS_PATHS } from '../../infra/sim/windows-rescue-model';
import {
  ec2ConfigVolume,
  ec2LaunchV1Volume,
  ec2LaunchV2Volume,
  V1_LAUNCH_CONFIG,
  V2_DEFAULT,
  V2_DO_NOTHING,
  V2_JSON,
  v1Task,
} from '../fixtures/windows-volumes';
import { DiskLab } from './support/disk-lab';
import {
  buildNtfsVolume,
  hiberfil,
  makeJournalUnclean,
  markBitLocker,
  ntfsTestsUnavailable,
  runNtfsRescue,
  setVolumeFlags,
  WINDOWS_FILE_ACL,
  type NtfsExtras,
  type NtfsLayout,
  type NtfsRun,
  type NtfsVolume,
} from './support/ntfs-lab';
import { systemHive } from './support/registry-hive';
import { nitroDevRoot, xenDevRoot } from './support/rescue-runner';

const unavailable = ntfsTestsUnavailable();
if (unavailable) {
  // An explicit, printed reason: CI runs as root with the packages installed, so it never skips.
  console.warn(`ntfs-rescue.disk.test.ts skipped: ${unavailable}`);
}
const describeOnNtfs = unavailable ? describe.skip : describe;

const ARCHIVE = 0x20;
const HIDDEN_NOT_INDEXED = 0x2002;

let seq = 0;
function nextIds(): { jobId: string; volumeId: string } {
  seq++;
  return { jobId: `job-ntfs-${seq}`, volumeId: `vol-0${seq.toString(16).padStart(16, 'b')}` };
}

/** The fixture's files without the placeholder hive (the image gets a real one). */
function withoutHive(files: VolumeFiles): VolumeFiles {
  const out = structuredClone(files);
  delete out[WINDOWS_PATHS.systemHive];
  return out;
}

function ok(run: NtfsRun): NtfsRescueSuccess {
  if (!run.summary.ok || run.status !== 0) throw new Error(`rescue failed (exit ${run.status}): ${JSON.stringify(run.summary)}\n${run.stderr}`);
  return run.summary;
}

function refused(run: NtfsRun, code: string): NtfsRescueFailure {
  if (run.summary.ok || run.summary.error !== code) throw new Error(`expected ${code}, got ${JSON.stringify(run.summary)}\n${run.stderr}`);
  expect(run.status).toBe(1);
  expect(run.summary.fallback).toBe(true);
  return run.summary;
}

/** What every run must leave: one line on stdout, nothing mounted, no ntfs-3g of ours running, no directories. */
function expectCleanHelper(run: NtfsRun, volume: NtfsVolume): void {
  expect(run.stdout.endsWith('\n')).toBe(true);
  expect(run.stdout.trimEnd().split('\n')).toHaveLength(1);
  expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(run.mountBase);
  expect(fs.readFileSync('/proc/mounts', 'utf8')).not.toContain(`${volume.partition} `);
  expect(fs.readdirSync(run.mountBase)).toEqual([]);
  const ours = fs.readdirSync('/proc').filter((pid) => {
    try {
      return /^\d+$/.test(pid) && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(run.mountBase);
    } catch {
      return false;
    }
  });
  expect(ours).toEqual([]);
}

/** The run did what the model does to the same files, and its summary says what the model's does. */
function expectAsModel(before: VolumeFiles, after: VolumeFiles, summary: NtfsRescueSuccess, flags: NtfsVolumeFlags = {}): void {
  const model = applyNtfsPasswordReset(before, flags);
  expect(model.error).toBeUndefined();
  expect(summary.agents).toEqual(model.agents);
  expect(summary.filesChanged).toEqual(model.filesChanged);
  expect(summary.filesRemoved).toEqual(model.filesRemoved);
  expect(summary.warnings).toEqual(model.warnings);
  expect(summary.serviceStart).toEqual(model.serviceStart);
  expect(after).toEqual(model.files);
}

describeOnNtfs('ntfs-rescue.sh on real NTFS images', () => {
  let lab: DiskLab;
  let decoy: { volumeId: string; loop: string; volume: NtfsVolume; hash: string };

  const build = (layout: NtfsLayout, files: VolumeFiles, extras: NtfsExtras = {}, services: Record<string, number> = { EC2Launch: 2 }): NtfsVolume =>
    buildNtfsVolume(lab, layout, withoutHive(files), {
      ...extras,
      binary: { [WINDOWS_PATHS.systemHive]: systemHive(services), ...extras.binary },
    });

  const run = (volume: NtfsVolume, ids = nextIds(), opts: { without?: string[]; succeeding?: string[] } = {}): NtfsRun =>
    runNtfsRescue(lab, { ...ids, devRoot: nitroDevRoot(lab, ids.volumeId, volume.loop, [], decoy), ...opts });

  beforeAll(() => {
    lab = new DiskLab('ra-ntfs-');
    // Another Windows volume attached to the same helper: never to be touched.
    const volume = build('mbr', ec2LaunchV2Volume(V2_DO_NOTHING));
    decoy = { volumeId: 'vol-0ffffffffffffffff', loop: volume.loop, volume, hash: volume.sha256() };
  });

  afterAll(() => {
    if (!lab) return;
    expect(decoy.volume.sha256()).toBe(decoy.hash);
    expect(lab.cleanup()).toEqual([]);
  });

  describe('what it changes', () => {
    it('EC2Launch v2 as the AMI ships it (random password, GPT): removes state\\.run-once, leaves agent-config.yml alone', () => {
      // Prepare
      const volume = build('gpt', ec2LaunchV2Volume(V2_DEFAULT), { acl: { [WINDOWS_PATHS.ec2launchV2Config]: WINDOWS_FILE_ACL } });
      const before = volume.read();
      const meta = volume.meta([WINDOWS_PATHS.ec2launchV2Config]);

      // Act
      const r = run(volume);

      // Assess
      const summary = ok(r);
      expectCleanHelper(r, volume);
      expect(summary).toMatchObject({ script: 'ntfs-rescue', helper: 'linux', partitionStyle: 'GPT', partition: volume.partition, disk: volume.loop });
      expect(summary.agents).toEqual([
        {
          agent: 'ec2launch-v2',
          config: 'C:\\ProgramData\\Amazon\\EC2Launch\\config\\agent-config.yml',
          generatesPassword: true,
          changes: ['removed state\\.run-once'],
        },
      ]);
      expect(summary.filesRemoved).toEqual(['C:\\ProgramData\\Amazon\\EC2Launch\\state\\.run-once']);
      expect(summary.warnings).toEqual([expect.stringContaining('runs every task of frequency "once" again')]);
      const after = volume.read();
      expect(after[WINDOWS_PATHS.ec2launchV2RunOnce]).toBeUndefined();
      expectAsModel(before, after, summary);
      expect(volume.meta([WINDOWS_PATHS.ec2launchV2Config])).toEqual(meta);
    });

    it('EC2Launch v2 with "doNothing": one line edited in place (same inode, security descriptor, attributes), BOM and CRLF kept', () => {
      // Prepare
      const config = `\uFEFF${V2_DO_NOTHING.replace(/\n/g, '\r\n')}`;
      const volume = build('mbr', ec2LaunchV2Volume(config), {
        acl: { [WINDOWS_PATHS.ec2launchV2Config]: WINDOWS_FILE_ACL },
        attrib: { [WINDOWS_PATHS.ec2launchV2Config]: HIDDEN_NOT_INDEXED },
      });
      const before = volume.read();
      const meta = volume.meta([WINDOWS_PATHS.ec2launchV2Config])[WINDOWS_PATHS.ec2launchV2Config]!;
      const bytes = volume.readBytes(WINDOWS_PATHS.ec2launchV2Config);

      // Act
      const r = run(volume);

      // Assess
      const summary = ok(r);
      expectCleanHelper(r, volume);
      expect(summary.agents[0]?.changes).toEqual(['setAdminAccount: password type doNothing -> random', 'removed state\\.run-once']);
      expect(summary.filesChanged).toEqual(['C:\\ProgramData\\Amazon\\EC2Launch\\config\\agent-config.yml']);
      const edited = volume.readBytes(WINDOWS_PATHS.ec2launchV2Config);
      expect(edited.toString('latin1')).toBe(
        bytes.toString('latin1').replace('        type: doNothing # set by the image pipeline\r\n', '        type: random\r\n'),
      );
      const after = volume.meta([WINDOWS_PATHS.ec2launchV2Config])[WINDOWS_PATHS.ec2launchV2Config]!;
      expect(after.inode).toBe(meta.inode);
      expect(after.acl).toBe(WINDOWS_FILE_ACL);
      expect(after.acl).toBe(meta.acl);
      // Writing sets the archive attribute, as Windows does on any write; nothing else changes.
      expect(after.attrib & ~ARCHIVE).toBe(meta.attrib & ~ARCHIVE);
      expectAsModel(before, volume.read(), summary);

      // A second run finds nothing to change and writes nothing.
      const hash = volume.sha256();
      const again = ok(run(volume));
      expect(again.agents[0]?.changes).toEqual([]);
      expect([again.filesChanged, again.filesRemoved]).toEqual([[], []]);
      expect(volume.sha256()).toBe(hash);
    });

    it('EC2Config (found by its Xen device name): Ec2SetPassword Disabled -> Enabled', () => {
      // Prepare
      const volume = build('mbr', ec2ConfigVolume(), { acl: { [WINDOWS_PATHS.ec2configConfig]: WINDOWS_FILE_ACL } });
      const before = volume.read();
      const meta = volume.meta([WINDOWS_PATHS.ec2configConfig])[WINDOWS_PATHS.ec2configConfig]!;
      const ids = nextIds();

      // Act
      const r = runNtfsRescue(lab, { ...ids, devRoot: xenDevRoot(lab, 'xvdf', volume.loop), params: { deviceHints: ['/dev/sdf'] } });

      // Assess
      const summary = ok(r);
      expectCleanHelper(r, volume);
      expect(summary.device.endsWith('/xvdf')).toBe(true);
      expect(summary.agents).toEqual([
        {
          agent: 'ec2config',
          config: 'C:\\Program Files\\Amazon\\Ec2ConfigService\\Settings\\config.xml',
          generatesPassword: true,
          changes: ['Ec2SetPassword Disabled -> Enabled'],
        },
      ]);
      expectAsModel(before, volume.read(), summary);
      const after = volume.meta([WINDOWS_PATHS.ec2configConfig])[WINDOWS_PATHS.ec2configConfig]!;
      expect([after.inode, after.acl]).toEqual([meta.inode, meta.acl]);
    });

    it('EC2Launch v1 whose initialization task is scheduled (UTF-16 task file): adminPasswordType -> Random', () => {
      // Prepare
      const files = ec2LaunchV1Volume(true);
      delete files[WINDOWS_PATHS.ec2launchV1Task];
      const volume = build('mbr', files, { utf16: { [WINDOWS_PATHS.ec2launchV1Task]: v1Task(true) } });
      const before = volume.read();

      // Act
      const r = run(volume);

      // Assess
      const summary = ok(r);
      expectCleanHelper(r, volume);
      expect(summary.agents).toEqual([
        {
          agent: 'ec2launch-v1',
          config: 'C:\\ProgramData\\Amazon\\EC2-Windows\\Launch\\Config\\LaunchConfig.json',
          generatesPassword: true,
          changes: ['adminPasswordType DoNothing -> Random'],
        },
      ]);
      expect(volume.read()[WINDOWS_PATHS.ec2launchV1Config]?.content).toBe(V1_LAUNCH_CONFIG.replace('"DoNothing"', '"Random"'));
      // The model reads the task file as text; the image holds it in UTF-16.
      expectAsModel(
        { ...before, [WINDOWS_PATHS.ec2launchV1Task]: file(v1Task(true), 0o644) },
        { ...volume.read(), [WINDOWS_PATHS.ec2launchV1Task]: file(v1Task(true), 0o644) },
        summary,
      );
    });

    it('finds files whatever their case (ntfs-3g is case-sensitive, Windows is not)', () => {
      // Prepare
      const names: Record<string, string> = {
        '/ProgramData': 'programdata',
        '/ProgramData/Amazon': 'amazon',
        '/ProgramData/Amazon/EC2Launch': 'EC2LAUNCH',
        '/ProgramData/Amazon/EC2Launch/config': 'Config',
        '/ProgramData/Amazon/EC2Launch/config/agent-config.yml': 'Agent-Config.YML',
        '/ProgramData/Amazon/EC2Launch/state': 'STATE',
        '/ProgramData/Amazon/EC2Launch/state/.run-once': '.RUN-ONCE',
        '/Windows': 'windows',
        '/Windows/System32': 'SYSTEM32',
        '/Windows/System32/config': 'CONFIG',
      };
      const rename = (p: string): string => {
        const parts = p.split('/');
        return parts.map((part, i) => names[parts.slice(0, i + 1).join('/')] ?? part).join('/');
      };
      const files: VolumeFiles = {};
      for (const [p, e] of Object.entries(ec2LaunchV2Volume(V2_DO_NOTHING))) files[rename(p)] = e;
      const volume = buildNtfsVolume(lab, 'mbr', withoutHive(files), { binary: { '/windows/SYSTEM32/CONFIG/system': systemHive({ EC2Launch: 2 }) } });
      const before = volume.read();

      // Act
      const r = run(volume);

      // Assess
      const summary = ok(r);
      expectCleanHelper(r, volume);
      expect(summary.filesChanged).toEqual(['C:\\ProgramData\\Amazon\\EC2Launch\\config\\agent-config.yml']);
      expect(summary.filesRemoved).toEqual(['C:\\ProgramData\\Amazon\\EC2Launch\\state\\.run-once']);
      const after = volume.read();
      expect(after['/programdata/amazon/EC2LAUNCH/Config/Agent-Config.YML']?.content).toContain('        type: random\n');
      expect(after['/programdata/amazon/EC2LAUNCH/STATE/.RUN-ONCE']).toBeUndefined();
      expectAsModel(before, after, summary);
    });
  });

  describe('more than one agent: the SYSTEM hive decides', () => {
    it('EC2Launch v2 disabled, EC2Config automatic: only EC2Config is edited', () => {
      // Prepare
      const files = { ...ec2LaunchV2Volume(V2_DO_NOTHING), ...ec2ConfigVolume() };
      const services = { EC2Launch: 4, Ec2Config: 2 };
      const volume = build('mbr', files, {}, services);
      const before = volume.read();

      // Act
      const r = run(volume);

      // Assess
      const summary = ok(r);
      expectCleanHelper(r, volume);
      expect(summary.serviceStart).toEqual(services);
      expect(summary.agents.map((a) => [a.agent, a.generatesPassword])).toEqual([
        ['ec2launch-v2', false],
        ['ec2config', true],
      ]);
      expect(summary.warnings).toEqual(['EC2Launch v2 is installed but its service (EC2Launch) is not set to start (Start 4): left alone']);
      const after = volume.read();
      expect(after[WINDOWS_PATHS.ec2launchV2RunOnce]).toBeDefined();
      expect(after[WINDOWS_PATHS.ec2launchV2Config]).toEqual(before[WINDOWS_PATHS.ec2launchV2Config]);
      expectAsModel(before, after, summary, { serviceStart: services });
    });

    it('EC2Launch v2 automatic, EC2Launch v1 left over without its task: EC2Launch v2 is edited', () => {
      // Prepare
      const files = { ...ec2LaunchV1Volume(false), ...ec2LaunchV2Volume(V2_DO_NOTHING) };
      const volume = build('gpt', files, {}, { EC2Launch: 2 });
      const before = volume.read();

      // Act
      const r = run(volume);

      // Assess
      const summary = ok(r);
      expectCleanHelper(r, volume);
      expect(summary.agents.map((a) => [a.agent, a.generatesPassword])).toEqual([
        ['ec2launch-v2', true],
        ['ec2launch-v1', false],
      ]);
      expect(summary.serviceStart).toEqual({ EC2Launch: 2 });
      expectAsModel(before, volume.read(), summary, { serviceStart: { EC2Launch: 2 } });
    });

    it('refuses when the hive cannot be read (no hivexget on the helper), the volume untouched', () => {
      // Prepare
      const volume = build('mbr', { ...ec2LaunchV2Volume(V2_DO_NOTHING), ...ec2ConfigVolume() }, {}, { EC2Launch: 2, Ec2Config: 2 });
      const hash = volume.sha256();

      // Act
      const r = run(volume, nextIds(), { without: ['hivexget'] });

      // Assess
      refused(r, 'SERVICE_STATE_UNKNOWN');
      expectCleanHelper(r, volume);
      expect(volume.sha256()).toBe(hash);
    });
  });

  describe('what it refuses, the volume bytes unchanged', () => {
    const refusal = (code: string, volume: NtfsVolume, opts: { without?: string[]; succeeding?: string[] } = {}): NtfsRescueFailure => {
      const hash = volume.sha256();
      const r = run(volume, nextIds(), opts);
      const failure = refused(r, code);
      expectCleanHelper(r, volume);
      expect(volume.sha256()).toBe(hash);
      return failure;
    };

    it('a hibernated Windows (hiberfil.sys "hibr")', () => {
      const volume = build('mbr', ec2LaunchV2Volume(V2_DO_NOTHING), { binary: { '/hiberfil.sys': hiberfil('hibr') } });

      const failure = refusal('HIBERNATED', volume);

      expect(failure.volumeWritten).toBe(false);
      expect(volume.readBytes('/hiberfil.sys').subarray(0, 4).toString('latin1')).toBe('hibr');
    });

    it('Fast Startup ("HIBR"), even when the read-write probe says nothing: ntfs-3g mounts read-only and the script sees it', () => {
      const volume = build('mbr', ec2LaunchV2Volume(V2_DO_NOTHING), { binary: { '/hiberfil.sys': hiberfil('HIBR') } });

      const failure = refusal('HIBERNATED', volume, { succeeding: ['ntfs-3g.probe'] });

      expect(failure.message).toContain('mounted');
      expect(failure.message).toContain('read-only');
    });

    it('a volume marked dirty (chkdsk due), which ntfs-3g itself would mount read-write', () => {
      const volume = build('mbr', ec2LaunchV2Volume(V2_DO_NOTHING));
      setVolumeFlags(volume.partition, 0x0001);

      const failure = refusal('UNCLEAN_VOLUME', volume);

      expect(failure.message).toContain('marked dirty');
    });

    it('an unclean journal (no clean shutdown)', () => {
      const volume = build('mbr', ec2LaunchV2Volume(V2_DO_NOTHING));
      makeJournalUnclean(volume.partition);

      expect(refusal('UNCLEAN_VOLUME', volume).message).toContain('journal');
    });

    it('an unclean journal when the probe says nothing: norecover keeps ntfs-3g from clearing it', () => {
      const volume = build('mbr', ec2LaunchV2Volume(V2_DO_NOTHING));
      makeJournalUnclean(volume.partition);

      expect(refusal('UNCLEAN_VOLUME', volume, { succeeding: ['ntfs-3g.probe'] }).message).toContain('read-only');
    });

    it('BitLocker', () => {
      const volume = build('mbr', ec2LaunchV2Volume(V2_DO_NOTHING));
      markBitLocker(volume.partition);

      expect(refusal('BITLOCKER', volume).message).toContain('BitLocker');
    });

    it.each(['mbr-dynamic', 'gpt-ldm'] as const)('a dynamic disk (%s)', (layout) => {
      const volume = build(layout, ec2LaunchV2Volume(V2_DO_NOTHING));

      expect(refusal('DYNAMIC_DISK', volume).message).toContain('dynamic disk');
    });

    it('EC2Launch v1 without its scheduled task', () => {
      const volume = build('mbr', ec2LaunchV1Volume(false));

      expect(refusal('AGENT_NOT_RESETTABLE_OFFLINE', volume).volumeWritten).toBe(false);
    });

    it('agent-config.yml written as JSON (the Windows helper rewrites it)', () => {
      const volume = build('mbr', ec2LaunchV2Volume(V2_JSON));

      expect(refusal('CONFIG_NOT_UNDERSTOOD', volume).message).toContain('JSON');
    });

    it('no Windows on the volume', () => {
      const files = ec2LaunchV2Volume(V2_DO_NOTHING);
      const volume = buildNtfsVolume(lab, 'mbr', withoutHive(files));

      expect(refusal('WINDOWS_VOLUME_NOT_FOUND', volume).message).toContain('no Windows installation');
    });

    it('a helper without ntfs-3g', () => {
      const volume = build('mbr', ec2LaunchV2Volume(V2_DO_NOTHING));

      refusal('NTFS3G_MISSING', volume, { without: ['ntfs-3g'] });
    });
  });
});
