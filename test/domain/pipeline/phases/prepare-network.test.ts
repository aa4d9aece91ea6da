import { prepareNetwork } from '../../../../domain/pipeline/phases/prepare-network';
import type { RescueNetwork, SubnetChoice } from '../../../../domain/job/job';
import { resetRequest } from '../../fixtures';
import { fakeNetworks, fakePorts, swapJob } from './fakes';

const rescueVpc: RescueNetwork = { kind: 'rescue-vpc', subnetId: 'subnet-rescue', vpcId: 'vpc-rescue', securityGroupIds: ['sg-1'] };
const preparing = (subnet: SubnetChoice) => swapJob('prepare-network', { request: resetRequest({ subnet }) });
const recorded = (result: Awaited<ReturnType<typeof prepareNetwork>>) => {
  const draft = preparing('CreateNewVPC');
  result.record?.(draft);
  return draft.resources.rescueNetwork;
};

describe('prepare-network', () => {
  it("uses the target's own subnet when asked", async () => {
    // Prepare
    const { ports } = fakePorts({ networks: fakeNetworks('not-yet') });
    // Act
    const result = await prepareNetwork(preparing('SelectedInstanceSubnet'), ports);
    // Assess
    expect(recorded(result)).toEqual({ kind: 'instance-subnet', subnetId: 'subnet-0123456789abcdef0', vpcId: 'vpc-0123456789abcdef0', securityGroupIds: [] });
  });

  it('uses a named subnet, refusing one that does not exist', async () => {
    // Prepare
    const { ports, compute } = fakePorts({ networks: fakeNetworks('not-yet') });
    compute.subnets.set('subnet-0aaaaaaaaaaaaaaaa', { subnetId: 'subnet-0aaaaaaaaaaaaaaaa', vpcId: 'vpc-1', availabilityZone: 'us-east-1a' });
    // Act
    const named = await prepareNetwork(preparing('subnet-0aaaaaaaaaaaaaaaa'), ports);
    const missing = prepareNetwork(preparing('subnet-0bbbbbbbbbbbbbbbb'), ports);
    // Assess
    expect(recorded(named)).toMatchObject({ kind: 'named-subnet', subnetId: 'subnet-0aaaaaaaaaaaaaaaa', vpcId: 'vpc-1' });
    await expect(missing).rejects.toMatchObject({ code: 'SUBNET_NOT_FOUND' });
  });

  it('takes a lease on the shared rescue network, then waits until it is built', async () => {
    // Prepare
    const building = fakePorts({ networks: fakeNetworks('not-yet') });
    const built = fakePorts({ networks: fakeNetworks(rescueVpc) });
    // Act
    const waiting = await prepareNetwork(preparing('CreateNewVPC'), building.ports);
    const done = await prepareNetwork(preparing('CreateNewVPC'), built.ports);
    // Assess
    expect(waiting).toMatchObject({ kind: 'wait', waitingFor: 'rescue network being created' });
    expect(Object.keys((await building.ports.networkLeases.read())!.leases)).toEqual(['r-test000001']);
    expect(recorded(done)).toEqual(rescueVpc);
  });
});
