import { MemoryRescueNetworkLeases } from '../../../infra/memory/memory-rescue-network-leases';
import { describeRescueNetworkLeasesContract } from '../rescue-network-leases.contract';

describeRescueNetworkLeasesContract('MemoryRescueNetworkLeases', async () => new MemoryRescueNetworkLeases());
