/**
 * `OnlineInstances` over EC2: the Windows online reset's reboot (RebootInstances) and its look at
 * GetPasswordData. Only whether password data is there, and its timestamp, leave this adapter: the
 * encrypted data itself is never returned, logged or kept (the owner reads it with their key).
 */
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
      const available = (out.PasswordData ?? '').trim().length > 0;
      return { available, ...(available && out.Timestamp ? { timestamp: out.Timestamp } : {}) };
    } catch (error) {
      throw translateAwsError(error, `GetPasswordData ${instanceId}`);
    }
  }
}
