/**
 * A job's hold on the region's shared rescue network: the lease it takes in prepare-network, the
 * creation lock it asks for when there is no VPC yet, and the release when the job ends.
 */
import type { Job } from '../job/job';
import type { CorePorts } from './phase';
import type { RescueVpcGuard } from '../ports';

type LeasePorts = Pick<CorePorts, 'networkLeases' | 'clock' | 'log' | 'config'>;

/** Only jobs that asked for the service's rescue VPC (the default) ever take a lease. */
export function usesRescueNetwork(job: Job): boolean {
  return job.request.subnet === 'CreateNewVPC';
}

/**
 * CreateVpc and CreateInternetGateway take no ClientToken: the job may call them only while it
 * holds the creation lock, a lease item with an expiry, so concurrent first jobs in a region make
 * one VPC and one gateway, and a job that died holding the lock blocks others for
 * `creationLockSeconds` at most.
 */
export function rescueVpcGuard(job: Job, ports: LeasePorts): RescueVpcGuard {
  return {
    mayCreate: () => ports.networkLeases.lockCreation(job.jobId, ports.clock.now(), ports.config.rescueNetwork.creationLockSeconds),
  };
}

/**
 * Gives the lease back when the job ends, whatever the outcome. Never fails the job: what could not
 * be released is logged, and the sweeper drops the leases of jobs that have ended.
 */
export async function releaseRescueNetwork(job: Job, ports: LeasePorts): Promise<void> {
  if (!usesRescueNetwork(job) || !job.phases['prepare-network']) return;
  try {
    await ports.networkLeases.release(job.jobId, ports.clock.now());
  } catch (error) {
    ports.log.warn('rescue network lease not released; the sweeper will drop it', { jobId: job.jobId, error: (error as Error).message });
  }
}
