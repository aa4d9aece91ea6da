/**
 * SSH key pairs made with Node's crypto, in the formats `ssh-keygen` writes: the online reset makes
 * its pairs with this (infra/aws/ssm-key-vault.ts), and the simulated region's model of the rescue
 * script makes the helper's pairs with it.
 */
import { createHash, generateKeyPairSync, randomBytes, type JsonWebKey } from 'node:crypto';

/** A key pair as `ssh-keygen` writes it: OpenSSH public line, openssh-key-v1 private key. */
export interface SshKeyPair {
  keyType: 'ed25519' | 'rsa';
  /** `ssh-ed25519 AAAA… comment` */
  publicKey: string;
  /** `-----BEGIN OPENSSH PRIVATE KEY-----…` */
  privateKey: string;
  /** `SHA256:…`, as `ssh-keygen -l` prints it. */
  fingerprint: string;
}

function sshString(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** SSH `mpint`: big-endian, no superfluous leading zeros, a zero byte when the top bit is set. */
function sshMpint(base64url: string | undefined): Buffer {
  let bytes = Buffer.from(base64url ?? '', 'base64url');
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  bytes = bytes.subarray(start);
  if (bytes.length && bytes[0] & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return sshString(bytes);
}

function armor(body: Buffer): string {
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return ['-----BEGIN OPENSSH PRIVATE KEY-----', ...lines, '-----END OPENSSH PRIVATE KEY-----', ''].join('\n');
}

function openSshPrivateKey(publicBlob: Buffer, privateFields: Buffer, comment: string): string {
  const check = randomBytes(4);
  let section = Buffer.concat([check, check, privateFields, sshString(comment)]);
  // Unencrypted keys are padded with 1, 2, 3… to the cipher block size of 8.
  const pad = (8 - (section.length % 8)) % 8;
  section = Buffer.concat([section, Buffer.from(Array.from({ length: pad }, (_v, i) => i + 1))]);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(1);
  return armor(
    Buffer.concat([
      Buffer.from('openssh-key-v1\0'),
      sshString('none'),
      sshString('none'),
      sshString(''),
      count,
      sshString(publicBlob),
      sshString(section),
    ]),
  );
}

/** Generates a key pair the way the rescue script does on the helper (`ssh-keygen -t ed25519`, or rsa 4096). */
export function generateSshKeyPair(keyType: 'ed25519' | 'rsa', comment: string): SshKeyPair {
  let blob: Buffer;
  let privateFields: Buffer;
  if (keyType === 'ed25519') {
    const { privateKey } = generateKeyPairSync('ed25519');
    const jwk: JsonWebKey = privateKey.export({ format: 'jwk' });
    const pub = Buffer.from(jwk.x ?? '', 'base64url');
    const seed = Buffer.from(jwk.d ?? '', 'base64url');
    blob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
    privateFields = Buffer.concat([sshString('ssh-ed25519'), sshString(pub), sshString(Buffer.concat([seed, pub]))]);
  } else {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 4096 });
    const jwk: JsonWebKey = privateKey.export({ format: 'jwk' });
    blob = Buffer.concat([sshString('ssh-rsa'), sshMpint(jwk.e), sshMpint(jwk.n)]);
    privateFields = Buffer.concat([
      sshString('ssh-rsa'),
      sshMpint(jwk.n),
      sshMpint(jwk.e),
      sshMpint(jwk.d),
      sshMpint(jwk.qi),
      sshMpint(jwk.p),
      sshMpint(jwk.q),
    ]);
  }
  const algorithm = keyType === 'ed25519' ? 'ssh-ed25519' : 'ssh-rsa';
  return {
    keyType,
    publicKey: `${algorithm} ${blob.toString('base64')} ${comment}`,
    privateKey: openSshPrivateKey(blob, privateFields, comment),
    fingerprint: sshFingerprint(blob.toString('base64')),
  };
}

/** `SHA256:…` of a public key blob (the base64 middle of a public key line), as `ssh-keygen -l` prints it. */
export function sshFingerprint(blobBase64: string): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(blobBase64, 'base64')).digest('base64').replace(/=+$/, '')}`;
}
