/**
 * `OnlineInstances` over EC2: the Windows online reset's reboot (RebootInstances) and its look at
 * GetPasswordData. Only whether password data is there, its timestamp and a digest leave this
 * adapter: the encrypted data itself is never returned, logged or kept (the owner reads it with
 * their key).
 */
import { createHash } from 'node:crypto';
import { GetPasswordDataCommand, RebootInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import type { OnlineInstances, PasswordDataStatus } from '../../domain/online-ports';
import { translateAwsError } from './errors';

export class Ec2OnlineInstances implements OnlineInstances {
  constructor(private readonly ec2: EC2Client) {}

  async reboot(instanceId: string): Promise<void> {
    try {
      await this.ec2.send(new RebootInstancesCommand({ InstanceIds: [instanceId] }));
    } catch (error) {
      throw translateAwsError(error, `RebootInstances ${instanceId}`);
    }
  }

  /**
   * GetPasswordData "returns an empty string if the password is not available"; `Timestamp` is
   * "the time the data was last updated" (EC2 API reference, GetPasswordData response elements).
   */
  async passwordData(instanceId: string): Promise<PasswordDataStatus> {
    try {
      const out = await this.ec2.send(new GetPasswordDataCommand({ InstanceId: instanceId }));
      const data = (out.PasswordData ?? '').trim();
      if (!data) return { available: false };
      const digest = createHash('sha256').update(data).digest('base64url');
      return { available: true, digest, ...(out.Timestamp ? { timestamp: out.Timestamp } : {}) };
    } catch (error) {
      throw translateAwsError(error, `GetPasswordData ${instanceId}`);
    }
  }
}
