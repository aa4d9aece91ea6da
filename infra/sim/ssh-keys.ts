/** The simulated region makes its key pairs as the service does (moved to infra/ssh-key-pair.ts). */
export { generateSshKeyPair, sshFingerprint, type SshKeyPair } from '../ssh-key-pair';
