/**
 * Whose key goes where, through the API on the simulated region (issue 17, service side): the
 * request's `user`, `publicKey` and `kmsKeyId`, checked before anything changes; the caller's own
 * key placed with no private key made or stored, offline and online; a named account that does not
 * exist failing with the instance restored byte for byte.
 */
import { generateKeyPairSync } from 'node:crypto';
import { VirtualStack } from '../../infra/local/virtual-stack';
import { amazonLinux2023Files, lostPublicKey, withLoginUser } from '../../infra/sim/base-images';
import { linuxOnlineRunner } from '../../infra/sim/linux-online-runner';
import { usersAcceptingKey } from '../../infra/sim/linux-rescue-model';
import type { ScriptRunner } from '../../infra/sim/script-runners';
import { PUBLIC_IMAGE_IDS } from '../../infra/sim/region';
import { SAMPLE_KMS_KEY_ID, SAMPLE_MANAGED_INSTANCE_PROFILE } from '../../infra/sim/samples';
import { generateSshKeyPair } from '../../infra/aws/ssh-key-pair';
import { isMutating, mutatingCalls } from '../support/checks';
import { resetThroughApi, rootVolumeOf } from '../support/online-resets';

const AL2023 = 'i-0a1b2c3d4e5f60001';
const UBUNTU = 'i-0a1b2c3d4e5f60002';
const WINDOWS = 'i-0a1b2c3d4e5f60007';
const WINDOWS_ONLINE = 'i-0a1b2c3d4e5f6000a';
const MANAGED = 'i-0a1b2c3d4e5f60009';

/** The caller's own key pair: only its public line is ever sent. */
const mine = generateSshKeyPair('ed25519', 'me@laptop');
/** A line of its private key file that no other key has (the first lines are a constant header). */
const privateLine = mine.privateKey.split('\n').at(-3)!;
/** What deploy's existing key line looks like: restricted by its owner. */
const DEPLOY_KEY = `from="10.0.0.0/8" ${lostPublicKey('deploy-ci')}`;

/** An Amazon Linux 2023 instance with ec2-user and a second keyed account, deploy; SSM-managed when `managed`. */
function seedTwoAccounts(stack: VirtualStack, options: { managed: boolean }): string {
  const ec2User = { uid: 1000, gid: 1000, gecos: 'EC2 Default User', groups: ['wheel'], selinux: true };
  const files = withLoginUser(withLoginUser(amazonLinux2023Files(), { user: 'ec2-user', ...ec2User, authorizedKeys: [lostPublicKey('ops')] }), {
    user: 'deploy',
    uid: 1001,
    gid: 1001,
    gecos: 'deploy',
    groups: [],
    authorizedKeys: [DEPLOY_KEY],
    selinux: true,
  });
  return stack.region.seedInstance({
    imageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
    state: 'running',
    availabilityZone: 'us-east-1a',
    tags: { 'reset-access:allowed': 'true' },
    ...(options.managed ? { iamInstanceProfileName: SAMPLE_MANAGED_INSTANCE_PROFILE } : {}),
    root: { files, deleteOnTermination: true },
  }).instanceId;
}

/** Every text the service wrote or sent: the jobs, the phase messages, every AWS call's input. */
function everythingWritten(stack: VirtualStack, jobs: unknown[]): string {
  return JSON.stringify([jobs, stack.deliveries, stack.region.calls.map((c) => c.input)]);
}

describe('the key fields are checked before anything changes', () => {
  const rsa2048 = (() => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
    const mpint = (b64: string) => {
      const bytes = Buffer.from(b64, 'base64url');
      return bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
    };
    const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, (b.length >> 8) & 0xff, b.length & 0xff]), b]);
    return `ssh-rsa ${Buffer.concat([str(Buffer.from('ssh-rsa')), str(mpint(jwk.e)), str(mpint(jwk.n))]).toString('base64')} old`;
  })();

  it.each([
    ['a user name that is not one', { user: 'Bad User' }, /^user: must be a Linux user name/],
    ['a user that is not a string', { user: 1000 }, /^user: /],
    ['a private key sent as the public key', { publicKey: mine.privateKey }, /^publicKey: this is a private key/],
    ['two key lines', { publicKey: `${mine.publicKey}\n${mine.publicKey}` }, /^publicKey: not one authorized_keys line/],
    ['an RSA key under 3072 bits', { publicKey: rsa2048 }, /^publicKey: an RSA key of 2048 bits: at least 3072 bits are needed$/],
    ['a key whose blob is not its type', { publicKey: `ssh-rsa ${mine.publicKey.split(' ')[1]}` }, /^publicKey: the key is not the ssh-rsa key/],
    ["keyType with the caller's key", { publicKey: mine.publicKey, keyType: 'rsa' }, /^keyType: not with publicKey/],
    ['a KMS key id that is not one', { kmsKeyId: 'my key' }, /^kmsKeyId: must be a KMS key id/],
    ["a KMS key with the caller's key", { publicKey: mine.publicKey, kmsKeyId: SAMPLE_KMS_KEY_ID }, /^kmsKeyId: not with publicKey/],
    [
      'a KMS key that does not exist',
      { kmsKeyId: '0b0b0b0b-1111-2222-3333-444444444444' },
      /^kmsKeyId: KMS key 0b0b0b0b-1111-2222-3333-444444444444 does not exist/,
    ],
  ])('%s: 400 naming the field, no job, no AWS change', async (_what, fields, message) => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const answer = await stack.api('POST', '/resets', { instanceId: AL2023, ...fields });
    // Assess
    expect({ status: answer.statusCode, code: answer.json.code }).toEqual({ status: 400, code: 'INVALID_REQUEST' });
    expect(answer.json.message).toMatch(message);
    expect(JSON.stringify(answer.json)).not.toContain(privateLine);
    expect((await stack.store.list({})).jobs).toEqual([]);
    expect(stack.region.calls.filter((c) => isMutating(c.action))).toEqual([]);
  });

  it('a KMS key that is disabled: 400 naming kmsKeyId', async () => {
    const stack = new VirtualStack();
    stack.region.setKmsKeyState(SAMPLE_KMS_KEY_ID, 'Disabled');

    const answer = await stack.api('POST', '/resets', { instanceId: AL2023, kmsKeyId: SAMPLE_KMS_KEY_ID });

    expect(answer.statusCode).toBe(400);
    expect(answer.json.message).toBe(`kmsKeyId: KMS key ${SAMPLE_KMS_KEY_ID} is Disabled, not Enabled`);
    expect((await stack.store.list({})).jobs).toEqual([]);
  });

  it.each([
    ['publicKey', WINDOWS, { publicKey: mine.publicKey }],
    ['user', WINDOWS, { user: 'Administrator'.toLowerCase() }],
    ['kmsKeyId', WINDOWS_ONLINE, { kmsKeyId: SAMPLE_KMS_KEY_ID }],
  ])('a Windows instance refuses %s with 400 saying why, and nothing changes', async (field, instanceId, fields) => {
    // Prepare
    const stack = new VirtualStack();
    // Act
    const answer = await stack.api('POST', '/resets', { instanceId, ...fields });
    // Assess
    expect({ status: answer.statusCode, code: answer.json.code }).toEqual({ status: 400, code: 'INVALID_REQUEST' });
    expect(answer.json.message).toBe(
      `${field}: ${instanceId} is a Windows instance: its reset turns password generation back on for the Administrator password and places no SSH key, so ${field} cannot be used`,
    );
    expect((await stack.store.list({})).jobs).toEqual([]);
    expect(stack.region.calls.filter((c) => isMutating(c.action))).toEqual([]);
  });
});

describe("the caller's own public key, by the volume swap", () => {
  it('goes to the named account only; no key pair is made, nothing is put to Parameter Store', async () => {
    // Prepare
    const stack = new VirtualStack();
    const instanceId = seedTwoAccounts(stack, { managed: false });
    const volumeId = rootVolumeOf(stack, instanceId);
    const before = stack.region.getVolume(volumeId)!.files;
    const line = `from="192.0.2.0/24" ${mine.publicKey}`;

    // Act
    const started = await stack.api('POST', '/resets', { instanceId, user: 'deploy', publicKey: line });
    await stack.run();
    const view = (await stack.api('GET', `/resets/${started.json.jobId}`)).json;

    // Assess
    expect(started.statusCode).toBe(202);
    expect(view.status).toBe('SUCCEEDED');
    expect(view.outputs).toMatchObject({
      sshUser: 'deploy',
      authorizedKeysFile: '/home/deploy/.ssh/authorized_keys',
      sshKeyFingerprint: mine.fingerprint,
      usersWithNewKey: ['deploy'],
    });
    expect(view.outputs.sshKeyParameter).toBeUndefined();
    expect(mutatingCalls(stack).PutParameter).toBeUndefined();
    expect(stack.region.getParameter(`/ec2rl/openssh/${instanceId}/key`)).toBeUndefined();
    const after = stack.region.getVolume(volumeId)!.files;
    expect(usersAcceptingKey(after, mine.publicKey)).toEqual(['deploy']);
    // deploy's own line stays, byte for byte, with the caller's line (options kept) after it; ec2-user is untouched.
    expect(after['/home/deploy/.ssh/authorized_keys']!.content).toBe(`${DEPLOY_KEY}\n${line}\n`);
    expect(after['/home/ec2-user/.ssh/authorized_keys']).toEqual(before['/home/ec2-user/.ssh/authorized_keys']);
    const sent = stack.region.calls.find((c) => c.action === 'SendCommand')!;
    expect(JSON.stringify(sent.input)).toContain(`export RA_PUBLIC_KEY=`);
    expect(JSON.stringify(sent.input)).not.toContain('export RA_PARAMETER_NAME=');
    const written = everythingWritten(stack, [await stack.job(view.jobId)]);
    expect(written).not.toContain('PRIVATE KEY');
    expect(written).not.toContain(privateLine);
  });

  it('with a named account that does not exist: FAILED with USER_NOT_FOUND, the instance restored unchanged', async () => {
    // Prepare
    const stack = new VirtualStack();
    const volumeId = rootVolumeOf(stack, AL2023);
    const before = stack.region.getVolume(volumeId)!;
    const instanceBefore = stack.region.getInstance(AL2023)!;

    // Act
    const started = await stack.api('POST', '/resets', { instanceId: AL2023, user: 'nobody-here', publicKey: mine.publicKey });
    await stack.run();
    const view = (await stack.api('GET', `/resets/${started.json.jobId}`)).json;

    // Assess
    expect(view.status).toBe('FAILED');
    expect(view.error).toMatchObject({ code: 'RESCUE_USER_NOT_FOUND', phase: 'run-rescue', message: expect.stringMatching(/nobody-here/) });
    expect(view.instanceRestored).toBe(true);
    const after = stack.region.getVolume(volumeId)!;
    expect(after.files).toEqual(before.files);
    expect(after.attachment).toMatchObject({
      instanceId: AL2023,
      device: instanceBefore.rootDeviceName,
      deleteOnTermination: before.attachment!.deleteOnTermination,
    });
    expect(stack.region.getInstance(AL2023)!.state).toBe('running');
    expect(mutatingCalls(stack).PutParameter).toBeUndefined();
  });

  it('a generated key with a customer KMS key: the SecureString is encrypted with it', async () => {
    const { stack, view } = await resetThroughApi({ instanceId: UBUNTU, kmsKeyId: SAMPLE_KMS_KEY_ID });

    expect(view.status).toBe('SUCCEEDED');
    expect(view.outputs).toMatchObject({
      sshKeyParameter: `/ec2rl/openssh/${UBUNTU}/key`,
      sshUser: 'ubuntu',
      authorizedKeysFile: '/home/ubuntu/.ssh/authorized_keys',
    });
    expect(stack.region.getParameter(`/ec2rl/openssh/${UBUNTU}/key`)).toMatchObject({ type: 'SecureString', keyId: SAMPLE_KMS_KEY_ID });
  });
});

describe("the caller's own public key, online", () => {
  it('goes to the named account on the running instance: no key pair, no PutParameter, one command', async () => {
    // Prepare
    const stack = new VirtualStack();
    const instanceId = seedTwoAccounts(stack, { managed: true });
    const volumeId = rootVolumeOf(stack, instanceId);
    const before = stack.region.getVolume(volumeId)!.files;

    // Act
    const started = await stack.api('POST', '/resets', { instanceId, mode: 'online', user: 'deploy', publicKey: mine.publicKey });
    await stack.run();
    const view = (await stack.api('GET', `/resets/${started.json.jobId}`)).json;

    // Assess
    expect(view.status).toBe('SUCCEEDED');
    expect(view.mode).toMatchObject({ chosen: 'online' });
    expect(mutatingCalls(stack)).toEqual({ SendCommand: 1 });
    expect(view.outputs).toEqual({
      sshUser: 'deploy',
      authorizedKeysFile: '/home/deploy/.ssh/authorized_keys',
      sshKeyFingerprint: mine.fingerprint,
      usersWithNewKey: ['deploy'],
      publicIpWillChange: false,
    });
    const after = stack.region.getVolume(volumeId)!.files;
    expect(usersAcceptingKey(after, mine.publicKey)).toEqual(['deploy']);
    expect(after['/home/ec2-user/.ssh/authorized_keys']).toEqual(before['/home/ec2-user/.ssh/authorized_keys']);
    const sent = JSON.stringify(stack.region.calls.find((c) => c.action === 'SendCommand')!.input);
    expect(sent).toContain("export RA_KEY_SOURCE='caller'");
    expect(sent).toContain("export RA_USER='deploy'");
    const written = everythingWritten(stack, [await stack.job(view.jobId)]);
    expect(written).not.toContain('PRIVATE KEY');
  });

  it('without a user: the default login account gets it', async () => {
    const { stack, view } = await resetThroughApi({ instanceId: MANAGED, publicKey: mine.publicKey });

    expect(view.status).toBe('SUCCEEDED');
    expect(view.outputs).toMatchObject({ sshUser: 'ec2-user', sshKeyFingerprint: mine.fingerprint });
    expect(mutatingCalls(stack)).toEqual({ SendCommand: 1 });
    expect(usersAcceptingKey(stack.region.getVolume(rootVolumeOf(stack, MANAGED))!.files, mine.publicKey)).toEqual(['ec2-user']);
  });

  it('with a named account that does not exist (mode online): FAILED, the instance unchanged', async () => {
    const stack = new VirtualStack();
    const volumeId = rootVolumeOf(stack, MANAGED);
    const before = stack.region.getVolume(volumeId)!.files;

    const started = await stack.api('POST', '/resets', { instanceId: MANAGED, mode: 'online', user: 'nobody-here', publicKey: mine.publicKey });
    await stack.run();
    const view = (await stack.api('GET', `/resets/${started.json.jobId}`)).json;

    expect(view.status).toBe('FAILED');
    expect(view.error).toMatchObject({ code: 'ONLINE_USER_NOT_FOUND' });
    expect(stack.region.getVolume(volumeId)!.files).toEqual(before);
    expect(stack.region.getInstance(MANAGED)!.state).toBe('running');
  });

  it('with a named account that does not exist (auto): FAILED without falling over to the swap, never stopped', async () => {
    const stack = new VirtualStack();
    const before = stack.region.getInstance(MANAGED)!;

    const started = await stack.api('POST', '/resets', { instanceId: MANAGED, user: 'nobody-here', publicKey: mine.publicKey });
    await stack.run();
    const view = (await stack.api('GET', `/resets/${started.json.jobId}`)).json;

    expect(view.status).toBe('FAILED');
    expect(view.error).toMatchObject({ code: 'ONLINE_USER_NOT_FOUND', message: expect.stringMatching(/volume swap would find the same/) });
    expect(view.mode.fellOver).toBeUndefined();
    expect(view.instanceRestored).toBe(true);
    expect(mutatingCalls(stack)).toEqual({ SendCommand: 1 });
    const after = stack.region.getInstance(MANAGED)!;
    expect([after.state, after.publicIpAddress]).toEqual(['running', before.publicIpAddress]);
  });

  it('a generated key with a customer KMS key: the online PutParameter names it', async () => {
    const { stack, view } = await resetThroughApi({ instanceId: MANAGED, kmsKeyId: SAMPLE_KMS_KEY_ID });

    expect(view.status).toBe('SUCCEEDED');
    expect(view.outputs).toMatchObject({ sshKeyParameter: `/ec2rl/openssh/${MANAGED}/key`, sshUser: 'ec2-user' });
    expect(stack.region.calls.find((c) => c.action === 'PutParameter')!.input).toMatchObject({ KeyId: SAMPLE_KMS_KEY_ID });
  });

  it.each([
    ["the caller's key", { publicKey: mine.publicKey }],
    ['a generated key', {}],
  ])('an instance without ssh-keygen (no fingerprint in the summary): %s is told by the line it wrote', async (_what, fields) => {
    // The script's online mode reports an empty fingerprint where the instance has no ssh-keygen.
    const noKeygen: ScriptRunner = {
      ...linuxOnlineRunner,
      name: 'linux-online-no-ssh-keygen',
      run: (run) => {
        const outcome = linuxOnlineRunner.run(run);
        return { ...outcome, stdout: `${JSON.stringify({ ...JSON.parse(outcome.stdout), fingerprint: '' })}\n` };
      },
    };

    const { view } = await resetThroughApi({ instanceId: MANAGED, mode: 'online', ...fields }, { region: { scriptRunners: [noKeygen] } });

    expect(view.status).toBe('SUCCEEDED');
    expect(view.outputs.sshKeyFingerprint).toMatch(/^SHA256:/);
    if ('publicKey' in fields) expect(view.outputs.sshKeyFingerprint).toBe(mine.fingerprint);
  });
});
