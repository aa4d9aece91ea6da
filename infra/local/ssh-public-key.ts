import { createPrivateKey, createPublicKey } from 'node:crypto';

/**
 * The OpenSSH public key (`type base64`) that belongs to a private key in PEM or OpenSSH form:
 * what a user's `ssh-keygen -y -f key` prints, used by checks that an instance accepts a new key.
 */
export function publicKeyOfPrivate(privateKey: string): string {
  if (privateKey.includes('BEGIN OPENSSH PRIVATE KEY')) return openSshPublicKey(privateKey);
  const jwk = createPublicKey(createPrivateKey(privateKey)).export({ format: 'jwk' }) as { kty: string; crv?: string; x?: string; n?: string; e?: string };
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') {
    return `ssh-ed25519 ${sshStrings(Buffer.from('ssh-ed25519'), Buffer.from(jwk.x!, 'base64url')).toString('base64')}`;
  }
  if (jwk.kty === 'RSA') {
    return `ssh-rsa ${sshStrings(Buffer.from('ssh-rsa'), mpint(jwk.e!), mpint(jwk.n!)).toString('base64')}`;
  }
  throw new Error(`unsupported key type ${jwk.kty}`);
}

function mpint(base64url: string): Buffer {
  const bytes = Buffer.from(base64url, 'base64url');
  return bytes[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
}

function sshStrings(...parts: Buffer[]): Buffer {
  return Buffer.concat(
    parts.flatMap((part) => {
      const length = Buffer.alloc(4);
      length.writeUInt32BE(part.length);
      return [length, part];
    }),
  );
}

/**
 * An `openssh-key-v1` file carries the public key in clear before the (possibly encrypted) private
 * part: magic, cipher, kdf, kdf options, key count, then the public key blob (PROTOCOL.key).
 */
function openSshPublicKey(privateKey: string): string {
  const body = privateKey.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const bytes = Buffer.from(body, 'base64');
  const magic = 'openssh-key-v1\0';
  if (bytes.subarray(0, magic.length).toString('latin1') !== magic) throw new Error('not an openssh-key-v1 private key');
  let offset = magic.length;
  const readString = () => {
    const length = bytes.readUInt32BE(offset);
    const value = bytes.subarray(offset + 4, offset + 4 + length);
    offset += 4 + length;
    return value;
  };
  readString(); // cipher
  readString(); // kdf
  readString(); // kdf options
  offset += 4; // number of keys
  const blob = readString();
  const type = blob.subarray(4, 4 + blob.readUInt32BE(0)).toString('latin1');
  return `${type} ${blob.toString('base64')}`;
}
