import type { RegionContext } from './context';
import type { KmsKeyRecord } from './state';

/** The AWS managed key EBS uses when a volume is encrypted without naming a key. */
export const DEFAULT_EBS_KEY_ALIAS = 'alias/aws/ebs';

/** A key by id, ARN or `alias/aws/ebs`; undefined when the region has no such key. */
export function findKmsKey(ctx: RegionContext, keyIdOrArn: string | undefined): KmsKeyRecord | undefined {
  if (!keyIdOrArn || keyIdOrArn === DEFAULT_EBS_KEY_ALIAS) {
    return Object.values(ctx.state.kmsKeys).find((k) => k.managed);
  }
  const keyId = keyIdOrArn.includes(':key/') ? keyIdOrArn.slice(keyIdOrArn.lastIndexOf('/') + 1) : keyIdOrArn;
  return ctx.state.kmsKeys[keyId];
}

/**
 * Why EBS cannot use the key of an encrypted volume, worded like the `cause` of EBS's
 * attachVolume failure event; undefined when the key is usable.
 */
export function kmsKeyProblem(ctx: RegionContext, volume: { encrypted: boolean; kmsKeyId?: string }): string | undefined {
  if (!volume.encrypted) return undefined;
  const key = findKmsKey(ctx, volume.kmsKeyId);
  if (!key) return `${volume.kmsKeyId ?? DEFAULT_EBS_KEY_ALIAS} does not exist.`;
  if (key.state === 'Disabled') return `${key.arn} is disabled.`;
  if (key.state === 'PendingDeletion') return `${key.arn} is pending deletion.`;
  return undefined;
}
