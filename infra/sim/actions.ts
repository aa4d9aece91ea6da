import type * as EC2 from '@aws-sdk/client-ec2';
import type * as SSM from '@aws-sdk/client-ssm';

import type { CallFaults, RegionContext } from './context';
import * as images from './ec2-images';
import * as instanceAttributes from './ec2-instance-attributes';
import * as instanceDescribe from './ec2-instance-describe';
import * as instanceLifecycle from './ec2-instance-lifecycle';
import * as instances from './ec2-instances';
import * as network from './ec2-network';
import * as endpoints from './ec2-network-endpoints';
import * as routing from './ec2-network-routing';
import * as securityGroups from './ec2-network-security-groups';
import * as tags from './ec2-tags';
import * as volumes from './ec2-volumes';
import * as runCommand from './ssm-run-command';
import * as ssm from './ssm-service';

type Empty = Record<string, never>;

/** Every EC2 action the simulated region serves: [input, output], in the SDK's shapes. */
export interface Ec2Actions {
  DescribeInstances: [EC2.DescribeInstancesRequest, EC2.DescribeInstancesResult];
  DescribeInstanceAttribute: [EC2.DescribeInstanceAttributeRequest, EC2.InstanceAttribute];
  DescribeInstanceTypes: [EC2.DescribeInstanceTypesRequest, EC2.DescribeInstanceTypesResult];
  ModifyInstanceAttribute: [EC2.ModifyInstanceAttributeRequest, Empty];
  RunInstances: [EC2.RunInstancesRequest, EC2.Reservation];
  StartInstances: [EC2.StartInstancesRequest, EC2.StartInstancesResult];
  StopInstances: [EC2.StopInstancesRequest, EC2.StopInstancesResult];
  TerminateInstances: [EC2.TerminateInstancesRequest, EC2.TerminateInstancesResult];
  RebootInstances: [EC2.RebootInstancesRequest, Empty];
  GetPasswordData: [EC2.GetPasswordDataRequest, EC2.GetPasswordDataResult];
  DescribeVolumes: [EC2.DescribeVolumesRequest, EC2.DescribeVolumesResult];
  AttachVolume: [EC2.AttachVolumeRequest, EC2.VolumeAttachment];
  DetachVolume: [EC2.DetachVolumeRequest, EC2.VolumeAttachment];
  CreateImage: [EC2.CreateImageRequest, EC2.CreateImageResult];
  DescribeImages: [EC2.DescribeImagesRequest, EC2.DescribeImagesResult];
  DeregisterImage: [EC2.DeregisterImageRequest, EC2.DeregisterImageResult];
  DescribeSnapshots: [EC2.DescribeSnapshotsRequest, EC2.DescribeSnapshotsResult];
  CreateTags: [EC2.CreateTagsRequest, Empty];
  DeleteTags: [EC2.DeleteTagsRequest, Empty];
  DescribeTags: [EC2.DescribeTagsRequest, EC2.DescribeTagsResult];
  DescribeVpcs: [EC2.DescribeVpcsRequest, EC2.DescribeVpcsResult];
  CreateVpc: [EC2.CreateVpcRequest, EC2.CreateVpcResult];
  DeleteVpc: [EC2.DeleteVpcRequest, Empty];
  DescribeSubnets: [EC2.DescribeSubnetsRequest, EC2.DescribeSubnetsResult];
  CreateSubnet: [EC2.CreateSubnetRequest, EC2.CreateSubnetResult];
  DeleteSubnet: [EC2.DeleteSubnetRequest, Empty];
  ModifySubnetAttribute: [EC2.ModifySubnetAttributeRequest, Empty];
  CreateInternetGateway: [EC2.CreateInternetGatewayRequest, EC2.CreateInternetGatewayResult];
  AttachInternetGateway: [EC2.AttachInternetGatewayRequest, Empty];
  DetachInternetGateway: [EC2.DetachInternetGatewayRequest, Empty];
  DeleteInternetGateway: [EC2.DeleteInternetGatewayRequest, Empty];
  DescribeInternetGateways: [EC2.DescribeInternetGatewaysRequest, EC2.DescribeInternetGatewaysResult];
  CreateRouteTable: [EC2.CreateRouteTableRequest, EC2.CreateRouteTableResult];
  CreateRoute: [EC2.CreateRouteRequest, EC2.CreateRouteResult];
  AssociateRouteTable: [EC2.AssociateRouteTableRequest, EC2.AssociateRouteTableResult];
  DisassociateRouteTable: [EC2.DisassociateRouteTableRequest, Empty];
  DeleteRouteTable: [EC2.DeleteRouteTableRequest, Empty];
  DescribeRouteTables: [EC2.DescribeRouteTablesRequest, EC2.DescribeRouteTablesResult];
  CreateSecurityGroup: [EC2.CreateSecurityGroupRequest, EC2.CreateSecurityGroupResult];
  DeleteSecurityGroup: [EC2.DeleteSecurityGroupRequest, EC2.DeleteSecurityGroupResult];
  DescribeSecurityGroups: [EC2.DescribeSecurityGroupsRequest, EC2.DescribeSecurityGroupsResult];
  CreateVpcEndpoint: [EC2.CreateVpcEndpointRequest, EC2.CreateVpcEndpointResult];
  DeleteVpcEndpoints: [EC2.DeleteVpcEndpointsRequest, EC2.DeleteVpcEndpointsResult];
  DescribeVpcEndpoints: [EC2.DescribeVpcEndpointsRequest, EC2.DescribeVpcEndpointsResult];
  DescribeAvailabilityZones: [EC2.DescribeAvailabilityZonesRequest, EC2.DescribeAvailabilityZonesResult];
}

/** Every SSM action the simulated region serves: [input, output], in the SDK's shapes. */
export interface SsmActions {
  DescribeInstanceInformation: [SSM.DescribeInstanceInformationRequest, SSM.DescribeInstanceInformationResult];
  SendCommand: [SSM.SendCommandRequest, SSM.SendCommandResult];
  GetCommandInvocation: [SSM.GetCommandInvocationRequest, SSM.GetCommandInvocationResult];
  ListCommands: [SSM.ListCommandsRequest, SSM.ListCommandsResult];
  ListCommandInvocations: [SSM.ListCommandInvocationsRequest, SSM.ListCommandInvocationsResult];
  PutParameter: [SSM.PutParameterRequest, SSM.PutParameterResult];
  GetParameter: [SSM.GetParameterRequest, SSM.GetParameterResult];
  GetParameters: [SSM.GetParametersRequest, SSM.GetParametersResult];
  GetParametersByPath: [SSM.GetParametersByPathRequest, SSM.GetParametersByPathResult];
  DeleteParameter: [SSM.DeleteParameterRequest, SSM.DeleteParameterResult];
  DeleteParameters: [SSM.DeleteParametersRequest, SSM.DeleteParametersResult];
}

export type Ec2Action = keyof Ec2Actions;
export type SsmAction = keyof SsmActions;
export type SimService = 'ec2' | 'ssm';

type Handler<I, O> = (ctx: RegionContext, input: I, faults: CallFaults) => O;
type Handlers<A extends { [K in keyof A]: [unknown, unknown] }> = { [K in keyof A]: Handler<A[K][0], A[K][1]> };

export const ec2Handlers: Handlers<Ec2Actions> = {
  DescribeInstances: instanceDescribe.describeInstances,
  DescribeInstanceAttribute: instanceAttributes.describeInstanceAttribute,
  DescribeInstanceTypes: instanceAttributes.describeInstanceTypes,
  ModifyInstanceAttribute: instanceAttributes.modifyInstanceAttribute,
  RunInstances: instances.runInstances,
  StartInstances: instanceLifecycle.startInstances,
  StopInstances: instanceLifecycle.stopInstances,
  TerminateInstances: instanceLifecycle.terminateInstances,
  RebootInstances: instanceLifecycle.rebootInstances,
  GetPasswordData: instanceAttributes.getPasswordData,
  DescribeVolumes: volumes.describeVolumes,
  AttachVolume: volumes.attachVolume,
  DetachVolume: volumes.detachVolume,
  CreateImage: images.createImage,
  DescribeImages: images.describeImages,
  DeregisterImage: images.deregisterImage,
  DescribeSnapshots: images.describeSnapshots,
  CreateTags: tags.createTags,
  DeleteTags: tags.deleteTags,
  DescribeTags: tags.describeTags,
  DescribeVpcs: network.describeVpcs,
  CreateVpc: network.createVpc,
  DeleteVpc: network.deleteVpc,
  DescribeSubnets: network.describeSubnets,
  CreateSubnet: network.createSubnet,
  DeleteSubnet: network.deleteSubnet,
  ModifySubnetAttribute: network.modifySubnetAttribute,
  CreateInternetGateway: routing.createInternetGateway,
  AttachInternetGateway: routing.attachInternetGateway,
  DetachInternetGateway: routing.detachInternetGateway,
  DeleteInternetGateway: routing.deleteInternetGateway,
  DescribeInternetGateways: routing.describeInternetGateways,
  CreateRouteTable: routing.createRouteTable,
  CreateRoute: routing.createRoute,
  AssociateRouteTable: routing.associateRouteTable,
  DisassociateRouteTable: routing.disassociateRouteTable,
  DeleteRouteTable: routing.deleteRouteTable,
  DescribeRouteTables: routing.describeRouteTables,
  CreateSecurityGroup: securityGroups.createSecurityGroup,
  DeleteSecurityGroup: securityGroups.deleteSecurityGroup,
  DescribeSecurityGroups: securityGroups.describeSecurityGroups,
  CreateVpcEndpoint: endpoints.createVpcEndpoint,
  DeleteVpcEndpoints: endpoints.deleteVpcEndpoints,
  DescribeVpcEndpoints: endpoints.describeVpcEndpoints,
  DescribeAvailabilityZones: network.describeAvailabilityZones,
};

export const ssmHandlers: Handlers<SsmActions> = {
  DescribeInstanceInformation: runCommand.describeInstanceInformation,
  SendCommand: runCommand.sendCommand,
  GetCommandInvocation: runCommand.getCommandInvocation,
  ListCommands: runCommand.listCommands,
  ListCommandInvocations: runCommand.listCommandInvocations,
  PutParameter: ssm.putParameter,
  GetParameter: ssm.getParameter,
  GetParameters: ssm.getParameters,
  GetParametersByPath: ssm.getParametersByPath,
  DeleteParameter: ssm.deleteParameter,
  DeleteParameters: ssm.deleteParameters,
};

export function isEc2Action(action: string): action is Ec2Action {
  return Object.prototype.hasOwnProperty.call(ec2Handlers, action);
}

export function isSsmAction(action: string): action is SsmAction {
  return Object.prototype.hasOwnProperty.call(ssmHandlers, action);
}
