/**
 * `EncryptionKeys` over KMS DescribeKey: the preflight asks whether EC2, on the service's behalf,
 * can use the key of an encrypted root. `NotFoundException` → `not-found`; `AccessDeniedException`
 * (the key policy does not let the service's role see it) → `access-denied`.
 */
import { DescribeKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import type { EncryptionKeys, KeyFacts } from '../../domain/ports';
import { awsErrorCode, translateAwsError } from './errors';

export class KmsEncryptionKeys implements EncryptionKeys {
  constructor(private readonly kms: KMSClient) {}

  async describeKey(keyId: string): Promise<KeyFacts | 'not-found' | 'access-denied'> {
    try {
      const { KeyMetadata } = await this.kms.send(new DescribeKeyCommand({ KeyId: keyId }));
      return {
        keyId: KeyMetadata?.KeyId ?? keyId,
        state: KeyMetadata?.KeyState ?? 'Unavailable',
        manager: KeyMetadata?.KeyManager === 'AWS' ? 'AWS' : 'CUSTOMER',
      };
    } catch (error) {
      const code = awsErrorCode(error);
      if (code === 'NotFoundException') return 'not-found';
      if (code === 'AccessDeniedException') return 'access-denied';
      throw translateAwsError(error, `KMS DescribeKey ${keyId}`);
    }
  }
}
