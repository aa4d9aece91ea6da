import { DescribeInstancesCommand, DescribeVpcsCommand, RunInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';

import { createSimRequestHandler } from '../../../infra/sim/http';
import { PUBLIC_IMAGE_IDS } from '../../../infra/sim/region';
import { DEFAULT_TIMINGS } from '../../../infra/sim/timings';
import { errorCodeOf, simulatedRegion } from './sim-harness';

async function runningInstance(env: ReturnType<typeof simulatedRegion>): Promise<string> {
  const run = await env.ec2.send(new RunInstancesCommand({ ImageId: PUBLIC_IMAGE_IDS.amazonLinux2023, MinCount: 1, MaxCount: 1 }));
  env.advance(DEFAULT_TIMINGS.launchMs);
  return run.Instances![0].InstanceId!;
}

describe('fault injection, the call log and throttling', () => {
  test("a 'before' fault fails the call without effect, once; the call log shows it", async () => {
    // Prepare
    const env = simulatedRegion();
    const { ec2, region } = env;
    const instanceId = await runningInstance(env);
    const fault = region.faults.add({
      service: 'ec2',
      action: 'StopInstances',
      match: (input) => input.InstanceIds?.includes(instanceId) ?? false,
      times: 1,
      error: { code: 'InternalError', message: 'We encountered an internal error.', status: 500 },
    });

    // Act
    const first = await errorCodeOf(ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] })));
    const stateAfterFault = region.getInstance(instanceId)?.state;
    const second = await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));

    // Assess
    expect(first).toBe('InternalError');
    expect(stateAfterFault).toBe('running');
    expect(second.StoppingInstances?.[0].CurrentState?.Name).toBe('stopping');
    expect(fault.hits).toBe(1);
    const stops = region.calls.filter((c) => c.action === 'StopInstances');
    expect(stops.map((c) => c.error?.code)).toEqual(['InternalError', undefined]);
    expect(stops[0].input).toEqual({ InstanceIds: [instanceId] });
  });

  test("an 'after' fault applies the effect and loses the answer: a retry sees the new state", async () => {
    // Prepare
    const env = simulatedRegion();
    const { ec2, region } = env;
    const instanceId = await runningInstance(env);
    region.faults.add({ service: 'ec2', action: 'StopInstances', when: 'after', times: 1, error: 'throttle' });

    // Act
    const lost = await errorCodeOf(ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] })));
    const retry = await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));

    // Assess
    expect(lost).toBe('RequestLimitExceeded');
    expect(retry.StoppingInstances?.[0].PreviousState?.Name).toBe('stopping');
    expect(region.calls.filter((c) => c.action === 'StopInstances').map((c) => c.error?.injected)).toEqual([true, undefined]);
  });

  test("'throttle' on SSM answers ThrottlingException, and the SDK's own retries get through once the fault is spent", async () => {
    // Prepare
    const env = simulatedRegion();
    const { region } = env;
    region.faults.add({ service: 'ssm', action: 'GetParameter', times: 2, error: 'throttle' });
    const retrying = new SSMClient({ region: 'us-east-1', requestHandler: createSimRequestHandler(region), maxAttempts: 3 });

    // Act
    const throttled = await errorCodeOf(
      env.ssm.send(new GetParameterCommand({ Name: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64' })),
    );
    const answered = await retrying.send(new GetParameterCommand({ Name: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64' }));

    // Assess
    expect(throttled).toBe('ThrottlingException');
    expect(answered.Parameter?.Value).toBe(PUBLIC_IMAGE_IDS.amazonLinux2023);
    expect(answered.$metadata.attempts).toBe(2);
  });

  test('with throttling on, EC2 answers RequestLimitExceeded once a bucket is empty, and refills over time', async () => {
    // Prepare
    const { ec2, advance } = simulatedRegion({ throttling: true });
    const run = () => ec2.send(new RunInstancesCommand({ ImageId: PUBLIC_IMAGE_IDS.amazonLinux2023, MinCount: 1, MaxCount: 1 }));

    // Act: RunInstances has a bucket of 5, refilled at 2 per second.
    for (let i = 0; i < 5; i++) await run();
    const sixth = await errorCodeOf(run());
    const describeStillFine = await ec2.send(new DescribeVpcsCommand({}));
    advance(1000);
    const afterRefill = await run();

    // Assess
    expect(sixth).toBe('RequestLimitExceeded');
    expect(describeStillFine.Vpcs).toHaveLength(1);
    expect(afterRefill.Instances).toHaveLength(1);
  });

  test('DryRun answers DryRunOperation and changes nothing; unknown actions are InvalidAction', async () => {
    // Prepare
    const env = simulatedRegion();
    const { ec2, region } = env;
    const instanceId = await runningInstance(env);
    const handler = createSimRequestHandler(region);

    // Act
    const dryRun = await errorCodeOf(ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId], DryRun: true })));
    const { response } = await handler.handle({
      method: 'POST',
      protocol: 'https:',
      hostname: 'ec2.us-east-1.amazonaws.com',
      path: '/',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=LaunchRockets&Version=2016-11-15',
    } as Parameters<typeof handler.handle>[0]);
    const unknownBody = Buffer.from(response.body as Uint8Array).toString('utf8');
    const stillRunning = (await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }))).Reservations![0].Instances![0].State?.Name;

    // Assess
    expect(dryRun).toBe('DryRunOperation');
    expect(stillRunning).toBe('running');
    expect(response.statusCode).toBe(400);
    expect(unknownBody).toContain('<Code>InvalidAction</Code>');
    expect(region.calls.find((c) => c.action === 'LaunchRockets')?.error?.code).toBe('InvalidAction');
  });

  test('asyncFailure: the call succeeds, the work it started fails later (a stop sticks, a command fails)', () => {
    // Prepare
    const { region, clock } = simulatedRegion();
    const launch = (profile?: string) =>
      region.ec2('RunInstances', {
        ImageId: PUBLIC_IMAGE_IDS.amazonLinux2023,
        MinCount: 1,
        MaxCount: 1,
        IamInstanceProfile: profile ? { Name: profile } : undefined,
      }).Instances![0].InstanceId!;
    const target = launch();
    const helper = launch('reset-access-helper');
    clock.advance(DEFAULT_TIMINGS.launchMs + DEFAULT_TIMINGS.linuxAgentOnlineMs);
    region.faults.add({ service: 'ec2', action: 'StopInstances', asyncFailure: true, times: 1 });
    region.faults.add({ service: 'ssm', action: 'SendCommand', asyncFailure: { message: 'agent crashed' }, times: 1 });

    // Act
    region.ec2('StopInstances', { InstanceIds: [target] });
    const sent = region.ssm('SendCommand', {
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: [helper],
      Parameters: { commands: ['true'] },
    });
    clock.advance(10 * DEFAULT_TIMINGS.stopMs);
    const invocation = region.ssm('GetCommandInvocation', { CommandId: sent.Command!.CommandId, InstanceId: helper });

    // Assess
    expect(region.getInstance(target)?.state).toBe('stopping');
    expect(invocation).toEqual(expect.objectContaining({ Status: 'Failed', ResponseCode: 1, StandardErrorContent: 'agent crashed\n' }));
  });
});
