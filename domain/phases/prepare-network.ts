import { PermanentError } from '../errors';
import { done, wait, type PhasePorts, type PhaseResult } from '../phase-runner';
import type { Job, RescueNetwork } from '../job';

/**
 * Prepare a network for the helper in the target's AZ: the target's own subnet, a subnet the
 * caller named (checked in validate to be in the same AZ), or the service's shared rescue VPC.
 */
export async function prepareNetwork(job: Job, ports: PhasePorts): Promise<PhaseResult> {
  const target = job.target!;
  const choice = job.request.subnet;
  let network: RescueNetwork | 'not-yet';
  if (choice === 'SelectedInstanceSubnet') {
    network = { kind: 'instance-subnet', subnetId: target.subnetId!, vpcId: target.vpcId, securityGroupIds: [] };
  } else if (choice === 'CreateNewVPC') {
    network = await ports.networks.ensure(target.availabilityZone);
  } else {
    const subnet = await ports.compute.describeSubnet(choice);
    if (!subnet) throw new PermanentError('SUBNET_NOT_FOUND', `subnet ${choice} does not exist`);
    network = { kind: 'named-subnet', subnetId: subnet.subnetId, vpcId: subnet.vpcId, securityGroupIds: [] };
  }
  if (network === 'not-yet') return wait('rescue network being created');
  const ready = network;
  return done((draft) => {
    draft.resources.rescueNetwork = ready;
  });
}
