/**
 * What can be read and changed of an instance besides its state: DescribeInstanceTypes (which
 * types have instance store), DescribeInstanceAttribute and ModifyInstanceAttribute (stop and
 * termination protection, shutdown behaviour, type, user data, groups, DeleteOnTermination of a
 * mapped volume), and GetPasswordData (the password a Windows launch agent made at its last boot).
 */
import type {
  DescribeInstanceAttributeRequest,
  DescribeInstanceTypesRequest,
  DescribeInstanceTypesResult,
  GetPasswordDataRequest,
  GetPasswordDataResult,
  InstanceAttribute,
  ModifyInstanceAttributeRequest,
} from '@aws-sdk/client-ec2';

import type { RegionContext } from './context';
import { blockDeviceMappingShapes, productCodeShapes, productCodesOf } from './ec2-instance-describe';
import { sameDevice, volumesAttachedTo } from './ec2-volumes';
import { requireInstance, requireSecurityGroup } from './lookup';
import { fail } from './sim-error';

/**
 * Instance storage of the types the region knows: the NVMe instance-store types (a `d` in the
 * family, and i3/i4i) have local disks, the rest are EBS-only. Sizes as on the instance type pages.
 */
const INSTANCE_STORE_DISKS: Record<string, { sizeInGB: number; count: number }> = {
  'm5d.large': { sizeInGB: 75, count: 1 },
  'm5d.xlarge': { sizeInGB: 150, count: 1 },
  'c5d.large': { sizeInGB: 50, count: 1 },
  'r5d.large': { sizeInGB: 75, count: 1 },
  'i3.large': { sizeInGB: 475, count: 1 },
  'm6id.large': { sizeInGB: 118, count: 1 },
};

export function describeInstanceTypes(_ctx: RegionContext, input: DescribeInstanceTypesRequest): DescribeInstanceTypesResult {
  return {
    InstanceTypes: (input.InstanceTypes ?? []).map((type) => {
      const disks = INSTANCE_STORE_DISKS[type];
      return {
        InstanceType: type,
        InstanceStorageSupported: disks !== undefined,
        InstanceStorageInfo: disks
          ? { TotalSizeInGB: disks.sizeInGB * disks.count, Disks: [{ SizeInGB: disks.sizeInGB, Count: disks.count, Type: 'ssd' }] }
          : undefined,
      };
    }),
  };
}

export function describeInstanceAttribute(ctx: RegionContext, input: DescribeInstanceAttributeRequest): InstanceAttribute {
  const instance = requireInstance(ctx, input.InstanceId);
  const base: InstanceAttribute = { InstanceId: instance.instanceId };
  switch (input.Attribute) {
    case 'instanceType':
      return { ...base, InstanceType: { Value: instance.instanceType } };
    case 'userData':
      return { ...base, UserData: instance.userData ? { Value: instance.userData } : {} };
    case 'disableApiTermination':
      return { ...base, DisableApiTermination: { Value: instance.disableApiTermination } };
    case 'disableApiStop':
      return { ...base, DisableApiStop: { Value: instance.disableApiStop } };
    case 'instanceInitiatedShutdownBehavior':
      return { ...base, InstanceInitiatedShutdownBehavior: { Value: instance.shutdownBehavior } };
    case 'rootDeviceName':
      return { ...base, RootDeviceName: { Value: instance.rootDeviceName } };
    case 'blockDeviceMapping':
      return { ...base, BlockDeviceMappings: blockDeviceMappingShapes(ctx, instance) };
    case 'productCodes':
      return { ...base, ProductCodes: productCodeShapes(productCodesOf(ctx, instance)) };
    case 'sourceDestCheck':
      return { ...base, SourceDestCheck: { Value: true } };
    case 'groupSet':
      return {
        ...base,
        Groups: instance.securityGroupIds.map((GroupId) => ({ GroupId, GroupName: ctx.state.securityGroups[GroupId]?.groupName })),
      };
    case 'ebsOptimized':
      return { ...base, EbsOptimized: { Value: instance.ebsOptimized } };
    case 'enaSupport':
      return { ...base, EnaSupport: { Value: true } };
    default:
      return fail('InvalidParameterValue', `Value (${input.Attribute ?? ''}) for parameter attribute is invalid. Unknown attribute.`);
  }
}

function parseBoolean(value: string | undefined, attribute: string): boolean {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return fail('InvalidParameterValue', `Value (${value ?? ''}) for parameter ${attribute} is invalid.`);
}

export function modifyInstanceAttribute(ctx: RegionContext, input: ModifyInstanceAttributeRequest): Record<string, never> {
  const instance = requireInstance(ctx, input.InstanceId);
  const requireStopped = (what: string) => {
    if (instance.state !== 'stopped') {
      fail('IncorrectInstanceState', `The instance '${instance.instanceId}' is not in the 'stopped' state (modifying ${what}).`);
    }
  };
  // The legacy form names the attribute and passes one value.
  const legacy = input.Attribute;
  const stopValue = input.DisableApiStop?.Value ?? (legacy === 'disableApiStop' ? parseBoolean(input.Value, legacy) : undefined);
  const terminationValue = input.DisableApiTermination?.Value ?? (legacy === 'disableApiTermination' ? parseBoolean(input.Value, legacy) : undefined);
  const shutdownValue = input.InstanceInitiatedShutdownBehavior?.Value ?? (legacy === 'instanceInitiatedShutdownBehavior' ? input.Value : undefined);
  const typeValue = input.InstanceType?.Value ?? (legacy === 'instanceType' ? input.Value : undefined);

  for (const mapping of input.BlockDeviceMappings ?? []) {
    const volume = volumesAttachedTo(ctx, instance.instanceId).find((v) => sameDevice(v.attachment!.device, mapping.DeviceName ?? ''));
    if (!volume) fail('InvalidInstanceAttributeValue', `No device is currently mapped at ${mapping.DeviceName ?? ''}`);
    if (mapping.Ebs?.DeleteOnTermination !== undefined) volume.attachment!.deleteOnTermination = mapping.Ebs.DeleteOnTermination;
  }
  if (stopValue !== undefined) instance.disableApiStop = stopValue;
  if (terminationValue !== undefined) instance.disableApiTermination = terminationValue;
  if (shutdownValue !== undefined) {
    if (shutdownValue !== 'stop' && shutdownValue !== 'terminate') {
      fail('InvalidParameterValue', `Value (${shutdownValue}) for parameter instanceInitiatedShutdownBehavior is invalid.`);
    }
    instance.shutdownBehavior = shutdownValue;
  }
  if (typeValue !== undefined) {
    requireStopped('instanceType');
    instance.instanceType = typeValue;
  }
  if (input.UserData?.Value !== undefined) {
    requireStopped('userData');
    instance.userData = Buffer.from(input.UserData.Value).toString('base64');
  }
  if (input.Groups?.length) {
    for (const groupId of input.Groups) {
      if (requireSecurityGroup(ctx, groupId).vpcId !== instance.vpcId) {
        fail('InvalidGroup.NotFound', `The security group '${groupId}' does not exist in VPC '${instance.vpcId}'`);
      }
    }
    instance.securityGroupIds = [...input.Groups];
  }
  if (input.EbsOptimized?.Value !== undefined) instance.ebsOptimized = input.EbsOptimized.Value;
  return {};
}

/**
 * `Timestamp` is "the time the data was last updated" (EC2 API Reference, GetPasswordData): when
 * the launch agent made the password, so that a caller can tell a password made after a reboot
 * from the one before. None while there is no password (the API documents no value for it then).
 */
export function getPasswordData(ctx: RegionContext, input: GetPasswordDataRequest): GetPasswordDataResult {
  const instance = requireInstance(ctx, input.InstanceId);
  const passwordData = instance.platform === 'windows' ? (instance.passwordData ?? '') : '';
  // A record saved before the time was kept: the password was made at its launch, as far as is known.
  const madeAt = passwordData === '' ? undefined : (instance.passwordDataTime ?? instance.launchTime);
  return {
    InstanceId: instance.instanceId,
    ...(madeAt === undefined ? {} : { Timestamp: new Date(madeAt) }),
    // Empty until the launch agent has generated a password, as GetPasswordData documents.
    PasswordData: passwordData,
  };
}
