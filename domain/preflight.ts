import type { ResetRequest } from './job';
import type { Compute, EncryptionKeys, KeyFacts, RescueNetworks, SsmRoute, SubnetFacts } from './ports';
import { rootDevice, type PreflightFacts } from './validation';

export interface PreflightPorts {
  compute: Compute;
  networks: RescueNetworks;
  /**
   * KMS, to judge the key of an encrypted root. Without it the key's state is not checked (a
   * disabled key then shows only when EC2 fails to attach or start the volume).
   */
  keys?: EncryptionKeys;
}

/** Reads what the preflight rules judge; `undefined` when the instance does not exist. Reads only. */
export async function gatherPreflightFacts(request: ResetRequest, ports: PreflightPorts): Promise<PreflightFacts | undefined> {
  const instance = await ports.compute.describeInstance(request.instanceId, { preflight: true });
  if (!instance) return undefined;
  const root = rootDevice(instance);
  const [rootVolume, namedSubnet, rescue] = await Promise.all([
    root ? ports.compute.describeVolume(root.volumeId) : undefined,
    request.subnet.startsWith('subnet-') ? ports.compute.describeSubnet(request.subnet) : undefined,
    request.subnet === 'CreateNewVPC' ? ports.networks.vpcExists() : false,
  ]);
  const vpcCount = request.subnet === 'CreateNewVPC' && !rescue ? await ports.compute.countVpcs() : undefined;
  const helperSubnet = await subnetOfHelper(request, instance, namedSubnet);
  const [subnetSsmRoute, rootKey] = await Promise.all([
    helperSubnet ? ports.compute.ssmRoute(helperSubnet) : undefined,
    rootVolume?.encrypted && rootVolume.kmsKeyId && ports.keys ? ports.keys.describeKey(rootVolume.kmsKeyId) : undefined,
  ]);
  return { instance, rootVolume, namedSubnet, rescueNetworkExists: rescue, vpcCount, subnetSsmRoute, rootKey };
}

/** The customer's subnet the helper would run in (the service's own rescue VPC needs no check). */
async function subnetOfHelper(
  request: ResetRequest,
  instance: PreflightFacts['instance'],
  namedSubnet: SubnetFacts | undefined,
): Promise<SubnetFacts | undefined> {
  if (request.subnet === 'SelectedInstanceSubnet') {
    return instance.subnetId && instance.vpcId ? { subnetId: instance.subnetId, vpcId: instance.vpcId, availabilityZone: instance.availabilityZone } : undefined;
  }
  return namedSubnet && namedSubnet.availabilityZone === instance.availabilityZone ? namedSubnet : undefined;
}

export type { KeyFacts, SsmRoute };
