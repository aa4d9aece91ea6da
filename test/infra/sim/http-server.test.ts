import { DescribeInstancesCommand, DescribeVpcsCommand, EC2Client, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';

import { ManualClock } from '../../../infra/sim/clock';
import { startSimServer, type SimServer } from '../../../infra/sim/http';
import { PUBLIC_IMAGE_IDS, SimulatedRegion } from '../../../infra/sim/region';
import { sampleInstances, seedSampleRegion } from '../../../infra/sim/samples';

describe('the simulated region over HTTP', () => {
  let server: SimServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test('SDK clients pointed at the server with `endpoint` see the sample instances and get EC2 and SSM errors', async () => {
    // Prepare
    const region = new SimulatedRegion({ clock: new ManualClock() });
    seedSampleRegion(region);
    server = await startSimServer(region, { port: 0, host: '127.0.0.1' });
    const ec2 = new EC2Client({ region: 'us-east-1', endpoint: server.url, maxAttempts: 1 });
    const ssm = new SSMClient({ region: 'us-east-1', endpoint: server.url, maxAttempts: 1 });

    // Act
    const described = await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:reset-access:auto', Values: ['true'] }] }));
    const refused = await ec2.send(new StopInstancesCommand({ InstanceIds: ['i-0a1b2c3d4e5f60006'] })).catch((e: Error) => e);
    const missing = await ssm.send(new GetParameterCommand({ Name: '/nope' })).catch((e: Error) => e);

    // Assess
    const autoIds = described.Reservations?.flatMap((r) => r.Instances?.map((i) => i.InstanceId)).sort();
    expect(autoIds).toEqual(['i-0a1b2c3d4e5f60001', 'i-0a1b2c3d4e5f60002', 'i-0a1b2c3d4e5f60005']);
    expect(sampleInstances.filter((s) => autoIds?.includes(s.instanceId))).toHaveLength(3);
    expect(refused).toEqual(expect.objectContaining({ name: 'OperationNotPermitted', $metadata: expect.objectContaining({ httpStatusCode: 400 }) }));
    expect((missing as Error).name).toBe('ParameterNotFound');
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('clients configured by AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL_SSM reach the server', async () => {
    // Prepare
    const region = new SimulatedRegion({ clock: new ManualClock() });
    server = await startSimServer(region);
    const saved = { ec2: process.env.AWS_ENDPOINT_URL_EC2, ssm: process.env.AWS_ENDPOINT_URL_SSM };
    process.env.AWS_ENDPOINT_URL_EC2 = server.url;
    process.env.AWS_ENDPOINT_URL_SSM = server.url;

    // Act
    try {
      const vpcs = await new EC2Client({ region: 'us-east-1', maxAttempts: 1 }).send(new DescribeVpcsCommand({}));
      const image = await new SSMClient({ region: 'us-east-1', maxAttempts: 1 }).send(
        new GetParameterCommand({ Name: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64' }),
      );

      // Assess
      expect(vpcs.Vpcs?.[0].IsDefault).toBe(true);
      expect(image.Parameter?.Value).toBe(PUBLIC_IMAGE_IDS.amazonLinux2023);
      expect(region.calls.map((c) => `${c.service}:${c.action}`)).toEqual(['ec2:DescribeVpcs', 'ssm:GetParameter']);
    } finally {
      for (const [name, value] of [
        ['AWS_ENDPOINT_URL_EC2', saved.ec2],
        ['AWS_ENDPOINT_URL_SSM', saved.ssm],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
