import { createPrivateKey, createPublicKey } from 'node:crypto';

/**
 * The OpenSSH public key (`type base64`) that belongs to a private key in PEM or OpenSSH form:
 * what a user's `ssh-keygen -y -f key` prints, used by checks that an instance accepts a new key.
 */
export function publicKeyOfPrivate(privateKey: string): string {
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
