/**
 * The baseline the benchmark compares against: AWSSupport-ResetAccess's steps in the runbook's own
 * sequential order (docs/aws-facts.md#awssupport-resetaccess), driven through the same
 * SDK clients against the same simulated region, on its clock.
 *
 * Waiting: automation's `aws:waitForAwsResourceProperty` documents no polling interval (Systems
 * Manager User Guide, "aws:waitForAwsResourceProperty"), so the baseline polls as botocore's EC2
 * waiters do (botocore `data/ec2/2016-11-15/waiters-2.json`: InstanceStopped, InstanceRunning,
 * ImageAvailable, VolumeAvailable, VolumeInUse all `delay: 15`), checking once at once and then
 * every `pollSeconds`. Whatever the runbook costs beyond AWS's own work is left out in its favour:
 * CloudFormation's and automation's step overheads, the IAM role and instance profile creation, an
 * interface endpoint (a gateway endpoint, which is ready at once, stands in for the stack's).
 */
import {
  AssociateRouteTableCommand,
  AttachInternetGatewayCommand,
  AttachVolumeCommand,
  CreateImageCommand,
  CreateInternetGatewayCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSecurityGroupCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  CreateVpcEndpointCommand,
  DeleteInternetGatewayCommand,
  DeleteRouteTableCommand,
  DeleteSecurityGroupCommand,
  DeleteSubnetCommand,
  DeleteVpcCommand,
  DeleteVpcEndpointsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeVolumesCommand,
  DetachInternetGatewayCommand,
  DetachVolumeCommand,
  DisassociateRouteTableCommand,
  ModifyInstanceAttributeCommand,
  RunInstancesCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  TerminateInstancesCommand,
  type EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { defaultConfig } from '../domain/config';
import type { Platform } from '../domain/job/job';
import { sshKeyParameterName } from '../domain/job/job';
import { HELPER_DEVICE } from '../domain/naming';
import { SsmRescueRunner } from '../infra/aws/ssm-rescue-runner';
import type { ManualClock } from '../infra/sim/clock';

/** botocore's EC2 waiters poll every 15 s (see the file comment). */
export const RUNBOOK_POLL_SECONDS = 15;
/** The runbook sleeps 10 s after attaching the volume to the helper (docs/aws-facts.md#awssupport-resetaccess). */
export const RUNBOOK_SLEEP_AFTER_ATTACH_SECONDS = 10;
/** A wait that takes longer than this is reported as a failure of the baseline, not waited out. */
const MAX_WAIT_SECONDS = 3 * 3600;

export interface BaselineOptions {
  ec2: EC2Client;
  ssm: SSMClient;
  clock: ManualClock;
  instanceId: string;
  platform: Platform;
  pollSeconds?: number;
  region?: string;
}

export interface BaselineResult {
  /** Start to the end of the stack deletion (the automation's end). */
  seconds: number;
  /** Start until the target was back in its original state with the new key (before clean-up). */
  accessRestoredSeconds: number;
  /** Each step's end, seconds from the start. */
  steps: Array<{ step: string; at: number }>;
}

/** Runs the runbook's steps one after the other, each waited out by polling. */
export async function runRunbookBaseline(options: BaselineOptions): Promise<BaselineResult> {
  const { ec2, ssm, clock, instanceId, platform } = options;
  const poll = options.pollSeconds ?? RUNBOOK_POLL_SECONDS;
  const start = clock.now();
  const steps: BaselineResult['steps'] = [];
  const mark = (step: string) => steps.push({ step, at: (clock.now() - start) / 1000 });
  const sleep = (seconds: number) => clock.advance(seconds * 1000);
  const waitUntil = async (what: string, check: () => Promise<boolean>) => {
    const deadline = clock.now() + MAX_WAIT_SECONDS * 1000;
    while (!(await check())) {
      if (clock.now() > deadline) throw new Error(`baseline: ${what} did not happen within ${MAX_WAIT_SECONDS} s`);
      sleep(poll);
    }
  };
  const describeInstance = async (id: string): Promise<Instance> => {
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    return out.Reservations![0]!.Instances![0]!;
  };
  const volumeState = async (volumeId: string) => (await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }))).Volumes![0]!;

  // Check platform, then the nested workflow's check that the root is EBS and not encrypted.
  const target = await describeInstance(instanceId);
  const wasRunning = target.State?.Name === 'running';
  const rootName = target.RootDeviceName!;
  const rootMapping = target.BlockDeviceMappings!.find((m) => m.DeviceName === rootName)!;
  const rootVolumeId = rootMapping.Ebs!.VolumeId!;
  const rootDeleteOnTermination = rootMapping.Ebs!.DeleteOnTermination ?? true;
  const root = await volumeState(rootVolumeId);
  if (root.Encrypted) throw new Error('baseline: the runbook refuses encrypted roots');
  mark('checks');

  // The CloudFormation stack: a VPC with subnet, internet gateway, route table and endpoint, and the helper.
  const vpcId = (await ec2.send(new CreateVpcCommand({ CidrBlock: '10.210.0.0/16' }))).Vpc!.VpcId!;
  const subnetId = (await ec2.send(new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.210.1.0/24', AvailabilityZone: target.Placement!.AvailabilityZone })))
    .Subnet!.SubnetId!;
  const igwId = (await ec2.send(new CreateInternetGatewayCommand({}))).InternetGateway!.InternetGatewayId!;
  await ec2.send(new AttachInternetGatewayCommand({ InternetGatewayId: igwId, VpcId: vpcId }));
  const routeTableId = (await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }))).RouteTable!.RouteTableId!;
  await ec2.send(new CreateRouteCommand({ RouteTableId: routeTableId, DestinationCidrBlock: '0.0.0.0/0', GatewayId: igwId }));
  const associationId = (await ec2.send(new AssociateRouteTableCommand({ RouteTableId: routeTableId, SubnetId: subnetId }))).AssociationId!;
  const endpointId = (
    await ec2.send(
      new CreateVpcEndpointCommand({ VpcId: vpcId, ServiceName: 'com.amazonaws.us-east-1.s3', VpcEndpointType: 'Gateway', RouteTableIds: [routeTableId] }),
    )
  ).VpcEndpoint!.VpcEndpointId!;
  const groupId = (await ec2.send(new CreateSecurityGroupCommand({ VpcId: vpcId, GroupName: `ec2rescue-${instanceId}`, Description: 'EC2Rescue helper' })))
    .GroupId!;
  const imageId = (await ssm.send(new GetParameterCommand({ Name: defaultConfig.helperImageParameter[platform] }))).Parameter!.Value!;
  const helperId = (
    await ec2.send(
      new RunInstancesCommand({
        ImageId: imageId,
        InstanceType: 't2.small',
        MinCount: 1,
        MaxCount: 1,
        SubnetId: subnetId,
        SecurityGroupIds: [groupId],
        IamInstanceProfile: { Name: defaultConfig.helperInstanceProfile },
      }),
    )
  ).Instances![0]!.InstanceId!;
  // CloudFormation's AWS::EC2::Instance is created once the instance is running.
  await waitUntil('helper running', async () => (await describeInstance(helperId)).State?.Name === 'running');
  mark('stack created');

  const rescue = new SsmRescueRunner(ssm, { region: options.region ?? 'us-east-1', rescueTimeoutSeconds: defaultConfig.rescueTimeoutSeconds });
  await waitUntil('helper Online in SSM', async () => (await rescue.agentStatus(helperId)) === 'Online');
  mark('helper online');

  // Stop the target (stop, stop again, force-stop: the sim's stops do not stick unless told to).
  if (wasRunning) {
    await ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] }));
    await waitUntil('target stopped', async () => (await describeInstance(instanceId)).State?.Name === 'stopped');
  }
  mark('target stopped');

  // Backup AMI; the runbook waits for it to be available.
  const backupImageId = (
    await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: `AWSSupport-ResetAccess-${instanceId}-${start}`, NoReboot: true }))
  ).ImageId!;
  await waitUntil('backup available', async () => (await ec2.send(new DescribeImagesCommand({ ImageIds: [backupImageId] }))).Images![0]!.State === 'available');
  mark('backup available');

  await ec2.send(new DetachVolumeCommand({ VolumeId: rootVolumeId, InstanceId: instanceId }));
  await waitUntil('root detached', async () => (await volumeState(rootVolumeId)).State === 'available');
  mark('root detached');
  await ec2.send(new AttachVolumeCommand({ VolumeId: rootVolumeId, InstanceId: helperId, Device: HELPER_DEVICE[platform] }));
  await waitUntil('root on helper', async () => (await volumeState(rootVolumeId)).Attachments?.[0]?.State === 'attached');
  sleep(RUNBOOK_SLEEP_AFTER_ATTACH_SECONDS);
  mark('root on helper');

  const params = {
    jobId: `baseline-${start}`,
    helperInstanceId: helperId,
    targetInstanceId: instanceId,
    platform,
    volumeId: rootVolumeId,
    parameterName: sshKeyParameterName(instanceId),
    keyType: 'rsa' as const,
  };
  const commandId = await rescue.start(params);
  let status = 'Pending';
  await waitUntil('rescue script finished', async () => {
    status = (await rescue.result(commandId, helperId))?.status ?? 'Pending';
    return !['Pending', 'InProgress', 'Delayed', 'Cancelling'].includes(status);
  });
  if (status !== 'Success') throw new Error(`baseline: rescue script ended ${status}`);
  mark('script done');

  await ec2.send(new StopInstancesCommand({ InstanceIds: [helperId] }));
  await waitUntil('helper stopped', async () => (await describeInstance(helperId)).State?.Name === 'stopped');
  mark('helper stopped');
  await ec2.send(new DetachVolumeCommand({ VolumeId: rootVolumeId, InstanceId: helperId }));
  await waitUntil('root off helper', async () => (await volumeState(rootVolumeId)).State === 'available');
  await ec2.send(new AttachVolumeCommand({ VolumeId: rootVolumeId, InstanceId: instanceId, Device: rootName }));
  await waitUntil('root back', async () => (await volumeState(rootVolumeId)).Attachments?.[0]?.State === 'attached');
  mark('root back');
  if (platform === 'windows') {
    // The password-enabled AMI; not waited for (in the baseline's favour: the runbook's wait is not documented).
    await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: `AWSSupport-ResetAccess-password-${instanceId}-${start}`, NoReboot: true }));
    mark('password-enabled AMI requested');
  }
  await ec2.send(
    new ModifyInstanceAttributeCommand({
      InstanceId: instanceId,
      BlockDeviceMappings: [{ DeviceName: rootName, Ebs: { DeleteOnTermination: rootDeleteOnTermination } }],
    }),
  );
  if (wasRunning) {
    await ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] }));
    await waitUntil('target running', async () => (await describeInstance(instanceId)).State?.Name === 'running');
  }
  mark('target restored');
  const accessRestoredSeconds = (clock.now() - start) / 1000;

  // Delete the stack: the instance first (CloudFormation waits for it), then the network in order.
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [helperId] }));
  await waitUntil('helper terminated', async () => (await describeInstance(helperId)).State?.Name === 'terminated');
  await ec2.send(new DeleteVpcEndpointsCommand({ VpcEndpointIds: [endpointId] }));
  await ec2.send(new DeleteSecurityGroupCommand({ GroupId: groupId }));
  await ec2.send(new DisassociateRouteTableCommand({ AssociationId: associationId }));
  await ec2.send(new DeleteRouteTableCommand({ RouteTableId: routeTableId }));
  await ec2.send(new DeleteSubnetCommand({ SubnetId: subnetId }));
  await ec2.send(new DetachInternetGatewayCommand({ InternetGatewayId: igwId, VpcId: vpcId }));
  await ec2.send(new DeleteInternetGatewayCommand({ InternetGatewayId: igwId }));
  await waitUntil('VPC deleted', async () => {
    try {
      await ec2.send(new DeleteVpcCommand({ VpcId: vpcId }));
      return true;
    } catch (error) {
      if ((error as Error).name === 'DependencyViolation') return false;
      throw error;
    }
  });
  mark('stack deleted');
  return { seconds: (clock.now() - start) / 1000, accessRestoredSeconds, steps };
}
