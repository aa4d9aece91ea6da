import type { RegionContext } from './context';
import { completeImage } from './ec2-images';
import { completeBoot, completeInstanceState, purgeInstance } from './ec2-instance-lifecycle';
import { completeVpcEndpoint } from './ec2-network-endpoints';
import { completeAttachment } from './ec2-volumes';
import { finishInvocation, startInvocation, timeOutInvocation } from './ssm-run-command';
import type { Transition } from './state';

/** Applies one timed transition; `ctx.now()` is the moment it was scheduled for. */
export function applyTransition(ctx: RegionContext, t: Transition): void {
  switch (t.kind) {
    case 'instance-state':
      return completeInstanceState(ctx, t.instanceId, t.epoch, t.to, t.reason);
    case 'instance-purge':
      return purgeInstance(ctx, t.instanceId, t.epoch);
    case 'boot-complete':
      return completeBoot(ctx, t.instanceId, t.epoch);
    case 'attachment':
      return completeAttachment(ctx, t.volumeId, t.epoch, t.to, t.cause);
    case 'image':
      return completeImage(ctx, t.imageId, t.to);
    case 'vpc-endpoint':
      return completeVpcEndpoint(ctx, t.vpcEndpointId, t.epoch, t.to);
    case 'command-start':
      return startInvocation(ctx, t.commandId, t.instanceId);
    case 'command-finish':
      return finishInvocation(ctx, t.commandId, t.instanceId);
    case 'command-timeout':
      return timeOutInvocation(ctx, t.commandId, t.instanceId);
  }
}
