import { GetParameterCommand, ParameterNotFound, PutParameterCommand, SSMClient, SSMServiceException } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { PermanentError } from '../../../domain/errors';
import { SsmKeyVault } from '../../../infra/aws/ssm-key-vault';
import { publicKeyOfPrivate } from '../../../infra/local/ssh-public-key';

const ssmMock = mockClient(SSMClient);
const NAME = '/ec2rl/openssh/i-0aaaa00000000001/key';

beforeEach(() => ssmMock.reset());

describe('createKeyPair', () => {
  it.each(['ed25519', 'rsa'] as const)('puts a %s private key as a SecureString and answers only its public half', async (keyType) => {
    // Prepare
    ssmMock.on(PutParameterCommand).resolves({ Version: 7 });
    const vault = new SsmKeyVault(new SSMClient({ region: 'eu-west-1' }));

    // Act
    const pair = await vault.createKeyPair({ parameterName: NAME, keyType, comment: 'reset-access-r-1', description: 'job r-1' });

    // Assess
    const input = ssmMock.commandCalls(PutParameterCommand)[0]!.args[0].input;
    expect(input).toMatchObject({ Name: NAME, Type: 'SecureString', Overwrite: true, Description: 'job r-1' });
    expect(input.KeyId).toBeUndefined();
    expect(input.Value).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
    expect(pair.publicKey).toBe(`${publicKeyOfPrivate(input.Value!)} reset-access-r-1`);
    expect(pair).toMatchObject({ keyType, parameterVersion: 7, fingerprint: expect.stringMatching(/^SHA256:[A-Za-z0-9+/]{43}$/) });
    expect(JSON.stringify(pair)).not.toContain('PRIVATE');
  });

  it('uses the configured KMS key, and answers a new pair each time', async () => {
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });
    const vault = new SsmKeyVault(new SSMClient({ region: 'eu-west-1' }), { kmsKeyId: 'alias/keys' });

    const a = await vault.createKeyPair({ parameterName: NAME, keyType: 'ed25519', comment: 'c', description: 'd' });
    const b = await vault.createKeyPair({ parameterName: NAME, keyType: 'ed25519', comment: 'c', description: 'd' });

    expect(ssmMock.commandCalls(PutParameterCommand)[0]!.args[0].input.KeyId).toBe('alias/keys');
    expect(a.publicKey).not.toBe(b.publicKey);
  });

  it("uses the request's KMS key over the configured one", async () => {
    ssmMock.on(PutParameterCommand).resolves({ Version: 1 });
    const vault = new SsmKeyVault(new SSMClient({ region: 'eu-west-1' }), { kmsKeyId: 'alias/keys' });

    await vault.createKeyPair({ parameterName: NAME, keyType: 'ed25519', comment: 'c', description: 'd', kmsKeyId: 'alias/team-keys' });

    expect(ssmMock.commandCalls(PutParameterCommand)[0]!.args[0].input.KeyId).toBe('alias/team-keys');
  });

  it('a refused put is an error whose message does not carry the key', async () => {
    ssmMock
      .on(PutParameterCommand)
      .rejects(new SSMServiceException({ name: 'AccessDeniedException', message: 'not allowed', $fault: 'client', $metadata: { httpStatusCode: 400 } }));
    const vault = new SsmKeyVault(new SSMClient({ region: 'eu-west-1' }));

    const error = await vault.createKeyPair({ parameterName: NAME, keyType: 'ed25519', comment: 'c', description: 'd' }).catch((e: Error) => e);

    expect(error).toBeInstanceOf(PermanentError);
    expect((error as Error).message).not.toContain('PRIVATE');
  });
});

describe('parameterVersion', () => {
  it('reads the version without decryption, and undefined for a parameter that does not exist', async () => {
    ssmMock
      .on(GetParameterCommand)
      .resolvesOnce({ Parameter: { Name: NAME, Version: 3, Value: 'AQICAH…ciphertext' } })
      .rejectsOnce(new ParameterNotFound({ message: '', $metadata: { httpStatusCode: 400 } }));
    const vault = new SsmKeyVault(new SSMClient({ region: 'eu-west-1' }));

    expect(await vault.parameterVersion(NAME)).toBe(3);
    expect(await vault.parameterVersion(NAME)).toBeUndefined();
    expect(ssmMock.commandCalls(GetParameterCommand).map((c) => c.args[0].input)).toEqual([
      { Name: NAME, WithDecryption: false },
      { Name: NAME, WithDecryption: false },
    ]);
  });
});
