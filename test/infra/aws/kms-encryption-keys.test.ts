import { KMSClient } from '@aws-sdk/client-kms';
import { createAwsClients } from '../../../infra/aws/clients';
import { KmsEncryptionKeys } from '../../../infra/aws/kms-encryption-keys';
import { ManualClock } from '../../../infra/sim/clock';
import { createSimRequestHandler } from '../../../infra/sim/http';
import { SimulatedRegion } from '../../../infra/sim/region';

describe('KMS DescribeKey through the simulated region', () => {
  function setup() {
    const region = new SimulatedRegion({ clock: new ManualClock() });
    const { kms } = createAwsClients({
      region: 'us-east-1',
      requestHandler: createSimRequestHandler(region),
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      env: {},
    });
    return { region, keys: new KmsEncryptionKeys(kms as KMSClient) };
  }

  it('reads a customer key and its state as it changes', async () => {
    // Prepare
    const { region, keys } = setup();
    const key = region.putKmsKey({ state: 'Enabled' });
    // Act
    const enabled = await keys.describeKey(key.keyId);
    region.setKmsKeyState(key.keyId, 'Disabled');
    const disabled = await keys.describeKey(key.arn);
    // Assess
    expect(enabled).toEqual({ keyId: key.keyId, state: 'Enabled', manager: 'CUSTOMER' });
    expect(disabled).toEqual({ keyId: key.keyId, state: 'Disabled', manager: 'CUSTOMER' });
  });

  it('answers not-found for a key that does not exist', async () => {
    const { keys } = setup();
    expect(await keys.describeKey('00000000-0000-0000-0000-000000000000')).toBe('not-found');
  });
});
