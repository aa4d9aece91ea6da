import type { ResetRequest } from './job';
import type { Compute, RescueNetworks } from './ports';
import { rootDevice, type PreflightFacts } from './validation';

/** Reads what the preflight rules judge; `undefined` when the instance does not exist. */
export async function gatherPreflightFacts(
  request: ResetRequest,
  ports: { compute: Compute; networks: RescueNetworks },
): Promise<PreflightFacts | undefined> {
  const instance = await ports.compute.describeInstance(request.instanceId, { preflight: true });
  if (!instance) return undefined;
  const root = rootDevice(instance);
  const [rootVolume, namedSubnet, rescue] = await Promise.all([
    root ? ports.compute.describeVolume(root.volumeId) : undefined,
    request.subnet.startsWith('subnet-') ? ports.compute.describeSubnet(request.subnet) : undefined,
    request.subnet === 'CreateNewVPC' ? ports.networks.vpcExists() : false,
  ]);
  const vpcCount = request.subnet === 'CreateNewVPC' && !rescue ? await ports.compute.countVpcs() : undefined;
  return { instance, rootVolume, namedSubnet, rescueNetworkExists: rescue, vpcCount };
}
