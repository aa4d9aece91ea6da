/**
 * What a Windows owner is told after a reset, offline or online: which launch agents make the new
 * password, and how to read it (GetPasswordData, decrypted with the key pair the instance was
 * launched with). Shared by run-rescue (the swap) and online-reset.
 */
import type { RescueSummary } from '../../ports';

const AGENT_NAMES: Record<string, string> = { 'ec2launch-v2': 'EC2Launch v2', 'ec2launch-v1': 'EC2Launch v1', ec2config: 'EC2Config' };

/** The agents of the rescue script's summary that make a password at the next boot, by their product names. */
export function agentNames(summary: RescueSummary): string[] {
  const agents = Array.isArray(summary.agents) ? (summary.agents as Array<{ agent?: unknown; generatesPassword?: unknown }>) : [];
  return agents.filter((a) => a.generatesPassword === true).map((a) => AGENT_NAMES[String(a.agent)] ?? String(a.agent));
}

/** The command that reads the new password, decrypted with the instance's launch key pair. */
export function passwordRetrievalCommand(instanceId: string, region: string): string {
  return `aws ec2 get-password-data --region ${region} --instance-id ${instanceId} --priv-launch-key <the key pair's private key file>`;
}
