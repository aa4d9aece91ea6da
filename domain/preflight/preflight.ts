import type { ResetRequest } from '../job/job';
import type { OnlinePorts } from '../online-ports';
import type { AgentStatus, Compute, EncryptionKeys, InstanceFacts, KeyFacts, RescueNetworks, SsmRoute, SubnetFacts } from '../ports';
import { rootDevice, type PreflightFacts, type PreflightRecord } from './validation';

export interface PreflightPorts {
  compute: Compute;
  networks: RescueNetworks;
  /**
   * KMS, to judge the key of an encrypted root. Without it the key's state is not checked (a
   * disabled key then shows only when EC2 fails to attach or start the volume).
   */
  keys?: EncryptionKeys;
}

/**
 * How long the API's preflight stays fresh enough for the validate phase to reuse. Validate is
 * published with the job and normally runs within seconds; one that runs later (redelivered after a
 * crash, re-driven by the sweeper after `sweeper.stalledAfterSeconds`, 3 min) reads everything again.
 */
export const PREFLIGHT_REUSE_SECONDS = 120;

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
  const [subnetSsmRoute, rootKey] = await Promise.all([helperSubnet ? ports.compute.ssmRoute(helperSubnet) : undefined, rootKeyOf(rootVolume, ports)]);
  return { instance, rootVolume, namedSubnet, rescueNetworkExists: rescue, vpcCount, subnetSsmRoute, rootKey };
}

/** What of `facts` the job keeps for its validate phase (the instance is read again there). */
export function preflightRecord(facts: PreflightFacts, gatheredAt: Date, agent: AgentStatus | undefined): PreflightRecord {
  const { instance } = facts;
  return {
    gatheredAt: gatheredAt.toISOString(),
    instance: {
      disableApiStop: instance.disableApiStop,
      shutdownBehavior: instance.shutdownBehavior,
      instanceStoreVolumeCount: instance.instanceStoreVolumeCount,
      ...(instance.autoScaling ? { autoScaling: instance.autoScaling } : {}),
    },
    ...(facts.rootVolume ? { rootVolume: facts.rootVolume } : {}),
    ...(facts.namedSubnet ? { namedSubnet: facts.namedSubnet } : {}),
    ...(facts.rescueNetworkExists !== undefined ? { rescueNetworkExists: facts.rescueNetworkExists } : {}),
    ...(facts.vpcCount !== undefined ? { vpcCount: facts.vpcCount } : {}),
    ...(facts.subnetSsmRoute ? { subnetSsmRoute: facts.subnetSsmRoute } : {}),
    ...(agent ? { agent } : {}),
  };
}

/** `record` if it was gathered less than `PREFLIGHT_REUSE_SECONDS` before `now`. */
export function freshPreflight(record: PreflightRecord | undefined, now: Date): PreflightRecord | undefined {
  if (!record) return undefined;
  const age = (now.getTime() - Date.parse(record.gatheredAt)) / 1000;
  return age >= 0 && age < PREFLIGHT_REUSE_SECONDS ? record : undefined;
}

/**
 * The preflight facts again, moments after the API gathered `recorded`. Read again: the instance
 * (its state, root volume and everything the job snapshots; one DescribeInstances) and the root's
 * KMS key (a key disabled meanwhile leaves the target unable to start, docs/aws-facts.md#ebs-encryption-and-kms). Taken
 * from `recorded`: what cannot change (instance storage, the root volume's encryption), what AWS
 * enforces again where it matters (stop protection: StopInstances refuses; the named subnet:
 * prepare-network describes it), and what a change within `PREFLIGHT_REUSE_SECONDS` would race the
 * API's own check as much as this one (shutdown behaviour, Auto Scaling Standby, the subnet's route
 * to SSM, whether the rescue VPC exists). A root volume other than the recorded one (replaced
 * meanwhile) means a full gathering.
 */
export async function refreshPreflightFacts(request: ResetRequest, recorded: PreflightRecord, ports: PreflightPorts): Promise<PreflightFacts | undefined> {
  const fresh = await ports.compute.describeInstance(request.instanceId);
  if (!fresh) return undefined;
  if (rootDevice(fresh)?.volumeId !== recorded.rootVolume?.volumeId) return gatherPreflightFacts(request, ports);
  const kept = recorded.instance;
  const instance: InstanceFacts = {
    ...fresh,
    disableApiStop: kept.disableApiStop,
    shutdownBehavior: kept.shutdownBehavior,
    instanceStoreVolumeCount: Math.max(fresh.instanceStoreVolumeCount, kept.instanceStoreVolumeCount),
    // The group's tag is read again; the lifecycle state (Standby) only the full lookup knows.
    autoScaling: fresh.autoScaling && kept.autoScaling?.groupName === fresh.autoScaling.groupName ? kept.autoScaling : fresh.autoScaling,
  };
  const rootVolume = recorded.rootVolume;
  return {
    instance,
    rootVolume,
    namedSubnet: recorded.namedSubnet,
    rescueNetworkExists: recorded.rescueNetworkExists,
    vpcCount: recorded.vpcCount,
    subnetSsmRoute: recorded.subnetSsmRoute,
    rootKey: await rootKeyOf(rootVolume, ports),
  };
}

type AgentPorts = Pick<OnlinePorts, 'commands'>;

/** `online` with what its agent look-ups answer remembered (the API records it for validate). */
export function watchAgent<T extends AgentPorts>(online: T | undefined): { online: T | undefined; seen: () => AgentStatus | undefined } {
  let seen: AgentStatus | undefined;
  const watched = online && withAgentLookup(online, async (instanceId) => (seen = await online.commands.agentStatus(instanceId)));
  return { online: watched, seen: () => seen };
}

/** `online` answering `status` for the agent without asking SSM (what the API saw moments ago). */
export function withAgentStatus<T extends AgentPorts>(online: T | undefined, status: AgentStatus | undefined): T | undefined {
  return online && status !== undefined ? withAgentLookup(online, async () => status) : online;
}

/** `online` whose `commands.agentStatus` is `agentStatus`; every other method is the original's. */
function withAgentLookup<T extends AgentPorts>(online: T, agentStatus: (instanceId: string) => Promise<AgentStatus>): T {
  const commands: T['commands'] = Object.assign(Object.create(online.commands) as T['commands'], { agentStatus });
  return { ...online, commands };
}

function rootKeyOf(rootVolume: PreflightFacts['rootVolume'], ports: PreflightPorts): Promise<PreflightFacts['rootKey']> {
  return rootVolume?.encrypted && rootVolume.kmsKeyId && ports.keys ? ports.keys.describeKey(rootVolume.kmsKeyId) : Promise.resolve(undefined);
}

/** The customer's subnet the helper would run in (the service's own rescue VPC needs no check). */
async function subnetOfHelper(
  request: ResetRequest,
  instance: PreflightFacts['instance'],
  namedSubnet: SubnetFacts | undefined,
): Promise<SubnetFacts | undefined> {
  if (request.subnet === 'SelectedInstanceSubnet') {
    return instance.subnetId && instance.vpcId
      ? { subnetId: instance.subnetId, vpcId: instance.vpcId, availabilityZone: instance.availabilityZone }
      : undefined;
  }
  return namedSubnet && namedSubnet.availabilityZone === instance.availabilityZone ? namedSubnet : undefined;
}

export type { KeyFacts, SsmRoute };
