import { EC2Client, EC2ServiceException, GetPasswordDataCommand, RebootInstancesCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { PermanentError, RetryableError } from '../../../domain/errors';
import { Ec2OnlineInstances } from '../../../infra/aws/ec2-online-instances';

const ec2Mock = mockClient(EC2Client);
const TARGET = 'i-0aaaa00000000001';
const DATA = 'c2VjcmV0LWVuY3J5cHRlZC1wYXNzd29yZC1kYXRh';

let instances: Ec2OnlineInstances;

beforeEach(() => {
  ec2Mock.reset();
  instances = new Ec2OnlineInstances(new EC2Client({ region: 'eu-west-1' }));
});

describe('passwordData', () => {
  it('answers whether data is there, when it was made, and a digest: never the data itself', async () => {
    // Prepare
    const at = new Date('2026-11-28T10:00:00Z');
    ec2Mock.on(GetPasswordDataCommand, { InstanceId: TARGET }).resolves({ InstanceId: TARGET, PasswordData: `\r\n${DATA}\r\n`, Timestamp: at });

    // Act
    const status = await instances.passwordData(TARGET);

    // Assess
    expect(status).toEqual({ available: true, timestamp: at, digest: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(JSON.stringify(status)).not.toContain(DATA);
  });

  it('answers not available for empty data, whatever the timestamp', async () => {
    ec2Mock.on(GetPasswordDataCommand).resolves({ InstanceId: TARGET, PasswordData: '', Timestamp: new Date() });

    expect(await instances.passwordData(TARGET)).toEqual({ available: false });
  });

  it('tells two passwords apart by their digests', async () => {
    ec2Mock
      .on(GetPasswordDataCommand)
      .resolvesOnce({ PasswordData: DATA })
      .resolvesOnce({ PasswordData: `${DATA}x` });

    const [a, b] = [await instances.passwordData(TARGET), await instances.passwordData(TARGET)];

    expect(a.digest).not.toBe(b.digest);
  });
});

describe('reboot', () => {
  it('sends RebootInstances for the one instance; a refusal is permanent, throttling retryable', async () => {
    const error = (name: string, status: number) =>
      new EC2ServiceException({ name, message: name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status } });
    ec2Mock.on(RebootInstancesCommand).resolvesOnce({}).rejectsOnce(error('UnauthorizedOperation', 403)).rejectsOnce(error('RequestLimitExceeded', 503));

    await instances.reboot(TARGET);
    await expect(instances.reboot(TARGET)).rejects.toBeInstanceOf(PermanentError);
    await expect(instances.reboot(TARGET)).rejects.toBeInstanceOf(RetryableError);

    expect(ec2Mock.commandCalls(RebootInstancesCommand)[0]!.args[0].input).toEqual({ InstanceIds: [TARGET] });
  });
});
