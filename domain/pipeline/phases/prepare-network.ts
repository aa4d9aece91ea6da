import { PermanentError } from '../../errors';
import { definePhase, done, wait, type PhasePorts, type PhaseResult } from '../phase';
import type { Job, RescueNetwork } from '../../job/job';
import { rescueVpcGuard } from '../rescue-network-lease';

/**
 * Prepare a network for the helper in the target's AZ: the target's own subnet, a subnet the
 * caller named (checked in validate to be in the same AZ), or the service's shared rescue VPC,
 * on which the job takes a lease that the runner gives back when the job ends.
 */
export async function prepareNetwork(job: Job, ports: PhasePorts<'networks'>): Promise<PhaseResult> {
  const target = job.target!;
  const choice = job.request.subnet;
  let network: RescueNetwork | 'not-yet';
  if (choice === 'SelectedInstanceSubnet') {
    network = { kind: 'instance-subnet', subnetId: target.subnetId!, vpcId: target.vpcId, securityGroupIds: [] };
  } else if (choice === 'CreateNewVPC') {
    // The lease first: while a job holds one the sweeper never reclaims the network.
    if ((await ports.networkLeases.acquire(job.jobId, ports.clock.now())) === 'reclaiming') {
      return wait('the idle rescue network to be reclaimed (a new one is made after it)');
    }
    network = await ports.networks.ensure(target.availabilityZone, rescueVpcGuard(job, ports));
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

declare module '../../job/job' {
  interface PhaseNames {
    'prepare-network': true;
  }
}

export const prepareNetworkPhase = definePhase({
  name: 'prepare-network',
  step: prepareNetwork,
  paths: ['offline'],
  after: ['validate'],
  ports: ['networks'],
  grants: ['build-rescue-network'],
  deadlineSeconds: 10 * 60,
  wokenBy: [],
});
