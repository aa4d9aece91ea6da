/**
 * `EncryptionKeys` over the simulated region's KMS keys, for the in-process stacks. The simulated
 * region serves no KMS protocol yet (the KMS SDK client is not a dependency), so this reads the
 * region's key records directly; a real deployment answers the same questions with KMS
 * DescribeKey.
 */
import type { EncryptionKeys, KeyFacts } from '../../domain/ports';
import type { SimulatedRegion } from '../sim/region';

export class SimEncryptionKeys implements EncryptionKeys {
  constructor(private readonly region: SimulatedRegion) {}

  async describeKey(keyId: string): Promise<KeyFacts | 'not-found' | 'access-denied'> {
    const key = this.region.getKmsKey(keyId);
    if (!key) return 'not-found';
    return { keyId: key.keyId, state: key.state, manager: key.managed ? 'AWS' : 'CUSTOMER' };
  }
}
