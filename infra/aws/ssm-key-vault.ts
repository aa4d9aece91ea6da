/**
 * `KeyVault` over Parameter Store: the online reset's key pair is made here with Node's crypto and
 * its private half is put straight to a SecureString (why here and not on the instance:
 * docs/architecture.md#the-online-reset). The private key lives only in this call's memory: the
 * generator zeroes its buffers (infra/aws/ssh-key-pair.ts), the text handed to the SDK is not returned,
 * logged or kept, and an error message never carries it (the SDK's errors do not echo request
 * values; PutParameter's Value is a sensitive field the SDK's own logging leaves out).
 */
import { GetParameterCommand, PutParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { PermanentError } from '../../domain/errors';
import type { KeyVault, NewKeyPair } from '../../domain/online-ports';
import { generateSshKeyPair } from './ssh-key-pair';
import { isAwsError, translateAwsError } from './errors';

export interface SsmKeyVaultSettings {
  /** KMS key of the SecureString; the account's `aws/ssm` key when absent. */
  kmsKeyId?: string;
}

export class SsmKeyVault implements KeyVault {
  constructor(
    private readonly ssm: SSMClient,
    private readonly settings: SsmKeyVaultSettings = {},
  ) {}

  async createKeyPair(input: {
    parameterName: string;
    keyType: 'ed25519' | 'rsa';
    comment: string;
    description: string;
    kmsKeyId?: string;
  }): Promise<NewKeyPair> {
    const pair = generateSshKeyPair(input.keyType, input.comment);
    const keyId = input.kmsKeyId ?? this.settings.kmsKeyId;
    let version: number | undefined;
    try {
      const out = await this.ssm.send(
        new PutParameterCommand({
          Name: input.parameterName,
          Type: 'SecureString',
          Value: pair.privateKey,
          Overwrite: true,
          Description: input.description,
          ...(keyId ? { KeyId: keyId } : {}),
        }),
      );
      version = out.Version;
    } catch (error) {
      throw translateAwsError(error, `PutParameter ${input.parameterName}`);
    }
    if (version === undefined) throw new PermanentError('PUT_PARAMETER_EMPTY', `PutParameter ${input.parameterName} answered no version`);
    return { keyType: pair.keyType, publicKey: pair.publicKey, fingerprint: pair.fingerprint, parameterVersion: version };
  }

  /** GetParameter without decryption: the version and a ciphertext, never the key. */
  async parameterVersion(parameterName: string): Promise<number | undefined> {
    try {
      const out = await this.ssm.send(new GetParameterCommand({ Name: parameterName, WithDecryption: false }));
      return out.Parameter?.Version;
    } catch (error) {
      if (isAwsError(error, 'ParameterNotFound')) return undefined;
      throw translateAwsError(error, `GetParameter ${parameterName}`);
    }
  }
}
