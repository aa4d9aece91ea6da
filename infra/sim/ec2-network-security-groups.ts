/**
 * Security groups of the simulated region: each VPC's default group (made with the VPC in
 * `ec2-network.ts`, never deleted by a user), groups made and deleted with EC2's checks (a name
 * once per VPC, no delete while an instance, an endpoint or another group's rule uses it), and
 * DescribeSecurityGroups by id, by name in the default VPC, or by filter.
 */
import type {
  CreateSecurityGroupRequest,
  CreateSecurityGroupResult,
  DeleteSecurityGroupRequest,
  DeleteSecurityGroupResult,
  DescribeSecurityGroupsRequest,
  DescribeSecurityGroupsResult,
  IpPermission,
  SecurityGroup,
} from '@aws-sdk/client-ec2';

import type { RegionContext } from './context';
import { applyFilters, type FilterSpec } from './filters';
import { pickByIds, requireSecurityGroup, requireVpc } from './lookup';
import { fail } from './sim-error';
import type { IpPermissionRecord, SecurityGroupRecord, VpcRecord } from './state';
import { tagsFromSpecifications, toTagList } from './tags';

// ---- records → EC2 shapes ----

function permissionShape(p: IpPermissionRecord): IpPermission {
  return {
    IpProtocol: p.ipProtocol,
    FromPort: p.fromPort,
    ToPort: p.toPort,
    IpRanges: p.cidrs.length ? p.cidrs.map((CidrIp) => ({ CidrIp })) : undefined,
    UserIdGroupPairs: p.groupIds.length ? p.groupIds.map((GroupId) => ({ GroupId })) : undefined,
  };
}

function securityGroupShape(ctx: RegionContext, sg: SecurityGroupRecord): SecurityGroup {
  return {
    GroupId: sg.groupId,
    GroupName: sg.groupName,
    Description: sg.description,
    VpcId: sg.vpcId,
    OwnerId: ctx.config.accountId,
    SecurityGroupArn: `arn:aws:ec2:${ctx.config.regionName}:${ctx.config.accountId}:security-group/${sg.groupId}`,
    IpPermissions: sg.ingress.length ? sg.ingress.map(permissionShape) : undefined,
    IpPermissionsEgress: sg.egress.length ? sg.egress.map(permissionShape) : undefined,
    Tags: toTagList(sg.tags),
  };
}

// ---- security groups ----

function defaultVpc(ctx: RegionContext): VpcRecord | undefined {
  return Object.values(ctx.state.vpcs).find((v) => v.isDefault);
}

export function createSecurityGroup(ctx: RegionContext, input: CreateSecurityGroupRequest): CreateSecurityGroupResult {
  const groupName = input.GroupName ?? fail('MissingParameter', 'The request must contain the parameter groupName');
  const description = input.Description ?? fail('MissingParameter', 'The request must contain the parameter groupDescription');
  const vpc = input.VpcId ? requireVpc(ctx, input.VpcId) : (defaultVpc(ctx) ?? fail('VPCIdNotSpecified', 'No default VPC for this user.'));
  if (groupName === 'default') fail('InvalidGroup.Reserved', "The security group 'default' is reserved");
  if (Object.values(ctx.state.securityGroups).some((g) => g.vpcId === vpc.vpcId && g.groupName === groupName)) {
    fail('InvalidGroup.Duplicate', `The security group '${groupName}' already exists for VPC '${vpc.vpcId}'`);
  }
  const tags = tagsFromSpecifications(input.TagSpecifications, 'security-group');
  const sg: SecurityGroupRecord = {
    groupId: ctx.ids.resourceId('sg'),
    groupName,
    description,
    vpcId: vpc.vpcId,
    isDefault: false,
    tags,
    ingress: [],
    egress: [{ ipProtocol: '-1', cidrs: ['0.0.0.0/0'], groupIds: [] }],
  };
  ctx.state.securityGroups[sg.groupId] = sg;
  const shape = securityGroupShape(ctx, sg);
  return { GroupId: sg.groupId, Tags: shape.Tags, SecurityGroupArn: shape.SecurityGroupArn };
}

export function deleteSecurityGroup(ctx: RegionContext, input: DeleteSecurityGroupRequest): DeleteSecurityGroupResult {
  let sg: SecurityGroupRecord;
  if (input.GroupId) {
    sg = requireSecurityGroup(ctx, input.GroupId);
  } else {
    const vpcId = defaultVpc(ctx)?.vpcId;
    sg =
      Object.values(ctx.state.securityGroups).find((g) => g.vpcId === vpcId && g.groupName === input.GroupName) ??
      fail('InvalidGroup.NotFound', `The security group '${input.GroupName ?? ''}' does not exist in default VPC '${vpcId}'`);
  }
  if (sg.isDefault) {
    fail('CannotDelete', `the specified group: "${sg.groupId}" name: "default" cannot be deleted by a user`);
  }
  const inUse =
    Object.values(ctx.state.instances).some((i) => i.state !== 'terminated' && i.securityGroupIds.includes(sg.groupId)) ||
    Object.values(ctx.state.vpcEndpoints).some((e) => e.securityGroupIds.includes(sg.groupId)) ||
    Object.values(ctx.state.securityGroups).some((g) => g !== sg && [...g.ingress, ...g.egress].some((p) => p.groupIds.includes(sg.groupId)));
  if (inUse) fail('DependencyViolation', `resource ${sg.groupId} has a dependent object`);
  delete ctx.state.securityGroups[sg.groupId];
  return { Return: true, GroupId: sg.groupId };
}

const securityGroupFilters: FilterSpec<SecurityGroupRecord> = {
  'group-id': (g) => g.groupId,
  'group-name': (g) => g.groupName,
  'vpc-id': (g) => g.vpcId,
  description: (g) => g.description,
};

export function describeSecurityGroups(ctx: RegionContext, input: DescribeSecurityGroupsRequest): DescribeSecurityGroupsResult {
  let picked = pickByIds(ctx.state.securityGroups, input.GroupIds, (missing) =>
    fail('InvalidGroup.NotFound', `The security group '${missing.join(', ')}' does not exist`),
  );
  if (input.GroupNames?.length) {
    const vpcId = defaultVpc(ctx)?.vpcId;
    const missing = input.GroupNames.filter((n) => !picked.some((g) => g.vpcId === vpcId && g.groupName === n));
    if (missing.length) fail('InvalidGroup.NotFound', `The security group '${missing.join(', ')}' does not exist in default VPC '${vpcId}'`);
    picked = picked.filter((g) => g.vpcId === vpcId && input.GroupNames?.includes(g.groupName));
  }
  return {
    SecurityGroups: applyFilters(picked, input.Filters, securityGroupFilters, (g) => g.tags).map((g) => securityGroupShape(ctx, g)),
  };
}
