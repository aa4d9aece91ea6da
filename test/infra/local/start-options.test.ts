import { createAwsClients } from '../../../infra/aws/clients';
import { assertLocalEndpoints, deployedSweepIntervalSeconds } from '../../../infra/local/local-stack';
import { localStackOptions } from '../../../infra/local/start-options';
import { silentLog } from '../../../infra/observability/logger';

const LOCAL = 'http://127.0.0.1:4566';
const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };

describe('npm start reads the configuration a deployment reads', () => {
  it('takes RESET_ACCESS_CONFIG, HELPER_INSTANCE_PROFILE and AWS_REGION as infra/wiring/config.ts does', () => {
    // Act
    const options = localStackOptions(
      {
        RESET_ACCESS_CONFIG: '{"defaultHelperInstanceType":"t3.medium","sweeper":{"graceSeconds":60}}',
        HELPER_INSTANCE_PROFILE: 'my-helper',
        AWS_REGION: 'eu-west-1',
        RESET_ACCESS_SIM: 'off',
      },
      [],
      silentLog,
    );

    // Assess
    expect(options.sim).toBe(false);
    expect(options.config).toMatchObject({
      defaultHelperInstanceType: 't3.medium',
      helperInstanceProfile: 'my-helper',
      region: 'eu-west-1',
      sweeper: { graceSeconds: 60, stalledAfterSeconds: 180 },
    });
  });

  it('refuses a RESET_ACCESS_CONFIG that is not JSON, and a SIM_SPEED that is not a number, naming them', () => {
    expect(() => localStackOptions({ RESET_ACCESS_CONFIG: '{nope' }, [], silentLog)).toThrow(/^RESET_ACCESS_CONFIG is not JSON: /);
    expect(() => localStackOptions({ SIM_SPEED: 'fast' }, [], silentLog)).toThrow(/^SIM_SPEED must be a number/);
  });

  it('runs the sweeper on the deployed schedule when pointed at real endpoints', () => {
    expect(deployedSweepIntervalSeconds()).toBe(600);
  });
});

describe('the local stack never calls a real AWS endpoint', () => {
  const services = ['ec2', 'ssm', 'kms', 'dynamodb', 'sqs', 'eventbridge'] as const;

  it('passes clients that all have a local endpoint', async () => {
    const clients = createAwsClients({ region: 'us-east-1', credentials, endpoints: Object.fromEntries(services.map((s) => [s, LOCAL])) });
    await expect(assertLocalEndpoints(clients, services)).resolves.toBeUndefined();
  });

  it('refuses a client built without its local endpoint, naming the service', async () => {
    // Prepare: KMS left to the SDK's default, as the local stack once built it.
    const clients = createAwsClients({
      region: 'us-east-1',
      credentials,
      env: {},
      endpoints: { ec2: LOCAL, ssm: LOCAL, dynamodb: LOCAL, sqs: LOCAL, eventbridge: LOCAL },
    });

    // Act / Assess
    await expect(assertLocalEndpoints(clients, services)).rejects.toThrow(/local stack's kms client has no local endpoint/);
  });
});
