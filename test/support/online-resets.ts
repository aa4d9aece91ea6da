/** What the online-reset tests share: a reset through the API on a fresh stack, and what it did to an instance. */
import type { PhaseName } from '../../domain/job/job';
import { VirtualStack, type VirtualStackOptions } from '../../infra/local/virtual-stack';
import type { SimCall } from '../../infra/sim/region';

/** The volume at the instance's root device now. */
export function rootVolumeOf(stack: VirtualStack, instanceId: string): string {
  const instance = stack.region.getInstance(instanceId)!;
  return Object.values(stack.region.exportState().volumes).find(
    (v) => v.attachment?.instanceId === instanceId && v.attachment.device === instance.rootDeviceName,
  )!.volumeId;
}

/** EC2 calls that named the instance and changed something (StopInstances, RebootInstances…), by action. */
export function callsOn(stack: VirtualStack, instanceId: string): string[] {
  const names = (call: SimCall) => JSON.stringify(call.input).includes(instanceId);
  return stack.region.calls.filter((c) => c.service === 'ec2' && !c.error && names(c) && !/^(Describe|Get)/.test(c.action)).map((c) => c.action);
}

/** POST /resets on a fresh stack (after `prepare`), run to the end; the start's answer and the job's view. */
export async function resetThroughApi(body: Record<string, unknown>, options: VirtualStackOptions = {}, prepare?: (stack: VirtualStack) => void) {
  const stack = new VirtualStack(options);
  prepare?.(stack);
  const started = await stack.api('POST', '/resets', body);
  await stack.run();
  const view = started.statusCode === 202 ? (await stack.api('GET', `/resets/${started.json.jobId}`)).json : undefined;
  return { stack, started, view };
}

export const phasesOf = (view: { phases: Array<{ name: PhaseName }> }) => view.phases.map((p) => p.name);
