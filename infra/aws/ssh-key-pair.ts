/**
 * SSH key pairs made with Node's crypto, in the formats `ssh-keygen` writes: the online reset makes
 * its pairs with this (infra/aws/ssm-key-vault.ts), and the simulated region's model of the rescue
 * script makes the helper's pairs with it.
 */
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';

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

/**
 * The buffers one generation makes: every one that held private key material is zeroed before the
 * pair is returned, so that the key is left only in the returned string (which JavaScript cannot
 * wipe: it lives until collected) and in OpenSSL's own copy, freed with its KeyObject.
 */
class Scratch {
  private readonly buffers: Buffer[] = [];

  keep(buffer: Buffer): Buffer {
    this.buffers.push(buffer);
    return buffer;
  }

  /** SSH `string`: a uint32 length, then the bytes (RFC 4251 section 5). */
  sshString(data: Buffer | string): Buffer {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    return this.concat([length, bytes]);
  }

  concat(parts: Buffer[]): Buffer {
    return this.keep(Buffer.concat(parts));
  }

  wipe(): void {
    for (const buffer of this.buffers) buffer.fill(0);
  }
}

/**
 * The INTEGERs of a DER SEQUENCE (an RSAPrivateKey, RFC 8017 appendix A.1.2), as views into `der`.
 * A positive DER INTEGER's content is already an SSH `mpint`'s (two's complement, big-endian, no
 * superfluous leading byte: X.690 section 8.3, RFC 4251 section 5).
 */
function derIntegers(der: Buffer): Buffer[] {
  let at = 0;
  const length = (): number => {
    const first = der[at++]!;
    if (first < 0x80) return first;
    let value = 0;
    for (let i = 0; i < (first & 0x7f); i++) value = value * 256 + der[at++]!;
    return value;
  };
  if (der[at++] !== 0x30) throw new Error('not a DER SEQUENCE');
  const end = length() + at;
  const integers: Buffer[] = [];
  while (at < end) {
    if (der[at++] !== 0x02) throw new Error('not a DER INTEGER');
    const size = length();
    integers.push(der.subarray(at, at + size));
    at += size;
  }
  return integers;
}

function openSshPrivateKey(scratch: Scratch, publicBlob: Buffer, privateFields: Buffer, comment: string): string {
  const check = randomBytes(4);
  const unpadded = scratch.concat([check, check, privateFields, scratch.sshString(comment)]);
  // Unencrypted keys are padded with 1, 2, 3… to the cipher block size of 8.
  const pad = (8 - (unpadded.length % 8)) % 8;
  const section = scratch.concat([unpadded, Buffer.from(Array.from({ length: pad }, (_v, i) => i + 1))]);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(1);
  const body = scratch.concat([
    Buffer.from('openssh-key-v1\0'),
    scratch.sshString('none'),
    scratch.sshString('none'),
    scratch.sshString(''),
    count,
    scratch.sshString(publicBlob),
    scratch.sshString(section),
  ]);
  const lines = body.toString('base64').match(/.{1,70}/g) ?? [];
  return ['-----BEGIN OPENSSH PRIVATE KEY-----', ...lines, '-----END OPENSSH PRIVATE KEY-----', ''].join('\n');
}

/**
 * Generates a key pair the way the rescue script does on the helper (`ssh-keygen -t ed25519`, or
 * rsa 4096). The private key is read from OpenSSL as DER bytes (not JWK strings, which could not be
 * wiped) and every intermediate buffer is zeroed before returning.
 */
export function generateSshKeyPair(keyType: 'ed25519' | 'rsa', comment: string): SshKeyPair {
  const scratch = new Scratch();
  try {
    let blob: Buffer;
    let privateFields: Buffer;
    if (keyType === 'ed25519') {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      // PKCS#8 and SPKI of an Ed25519 key end with the 32-byte seed and public key (RFC 8410).
      const seed = scratch.keep(privateKey.export({ format: 'der', type: 'pkcs8' })).subarray(-32);
      const pub = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
      blob = scratch.concat([scratch.sshString('ssh-ed25519'), scratch.sshString(pub)]);
      privateFields = scratch.concat([scratch.sshString('ssh-ed25519'), scratch.sshString(pub), scratch.sshString(scratch.concat([seed, pub]))]);
    } else {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 4096 });
      const [, n, e, d, p, q, , , qi] = derIntegers(scratch.keep(privateKey.export({ format: 'der', type: 'pkcs1' })));
      if (!n || !e || !d || !p || !q || !qi) throw new Error('an RSA private key without its parts');
      blob = scratch.concat([scratch.sshString('ssh-rsa'), scratch.sshString(e), scratch.sshString(n)]);
      privateFields = scratch.concat([
        scratch.sshString('ssh-rsa'),
        scratch.sshString(n),
        scratch.sshString(e),
        scratch.sshString(d),
        scratch.sshString(qi),
        scratch.sshString(p),
        scratch.sshString(q),
      ]);
    }
    const algorithm = keyType === 'ed25519' ? 'ssh-ed25519' : 'ssh-rsa';
    const publicBlob = blob.toString('base64');
    return {
      keyType,
      publicKey: `${algorithm} ${publicBlob} ${comment}`,
      privateKey: openSshPrivateKey(scratch, blob, privateFields, comment),
      fingerprint: sshFingerprint(publicBlob),
    };
  } finally {
    scratch.wipe();
  }
}

/** `SHA256:…` of a public key blob (the base64 middle of a public key line), as `ssh-keygen -l` prints it. */
export function sshFingerprint(blobBase64: string): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(blobBase64, 'base64')).digest('base64').replace(/=+$/, '')}`;
}
