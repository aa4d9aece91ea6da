import { publicKeyOfPrivate } from '../../infra/local/ssh-public-key';
import type { VirtualStack } from '../../infra/local/virtual-stack';
import { usersAcceptingKey } from '../../infra/sim/linux-rescue-model';

/** EC2 and SSM actions that change something (everything else only reads). */
export function isMutating(action: string): boolean {
  return !/^(Describe|Get|List)/.test(action);
}

export function mutatingCalls(stack: VirtualStack): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const call of stack.region.calls) {
    if (call.error || !isMutating(call.action)) continue;
    counts[call.action] = (counts[call.action] ?? 0) + 1;
  }
  return counts;
}

export function usersAcceptingStoredKey(stack: VirtualStack, instanceId: string, rootVolumeId: string): string[] {
  const parameter = stack.region.getParameter(`/ec2rl/openssh/${instanceId}/key`);
  if (!parameter) return [];
  const volume = stack.region.getVolume(rootVolumeId)!;
  return usersAcceptingKey(volume.files, publicKeyOfPrivate(parameter.value));
}
