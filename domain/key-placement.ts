/**
 * What a caller may ask about the new key (Linux): the account that gets it (`user`), their own
 * public key (`publicKey`: then no private key is made, stored or sent anywhere), and the KMS key
 * of the Parameter Store SecureString that holds a generated private key (`kmsKeyId`). All of it
 * is checked here, before anything changes; the rescue script checks the same again on the volume.
 */
import { createHash } from 'node:crypto';
import { RefusedError } from './errors';
import type { SshKeyType } from './cloud';

/** A POSIX user name as useradd accepts it by default; the rescue script checks the same. */
export const LINUX_USER_NAME = /^[a-z_][a-z0-9_-]*[$]?$/;
export const LINUX_USER_NAME_MAX = 32;
export const LINUX_USER_NAME_MESSAGE = `must be a Linux user name: lower-case letters, digits, '_', '-' (a final '$' allowed), starting with a letter or '_', at most ${LINUX_USER_NAME_MAX} characters`;
/** The longest public key line (options included) the script accepts. */
export const MAX_PUBLIC_KEY_LINE = 8192;

/** A user name the script accepts for `RA_USER`. */
export function isLinuxUserName(name: string): boolean {
  return name.length <= LINUX_USER_NAME_MAX && LINUX_USER_NAME.test(name);
}

const KEY_OPTION = '[A-Za-z0-9-]+(?:="(?:[^"\\\\]|\\\\.)*")?';
/** sshd(8) AUTHORIZED_KEYS FILE FORMAT, the types the script takes: https://man.openbsd.org/sshd.8 */
const KEY_LINE = new RegExp(
  `^(${KEY_OPTION}(?:,${KEY_OPTION})*[ ]+)?(ssh-ed25519|ecdsa-sha2-nistp(?:256|384|521)|ssh-rsa)[ ]+([A-Za-z0-9+/]+={0,2})(?:[ ].*)?$`,
);

/**
 * The parts of one authorized_keys line, as the script's syntax check reads it (options, an allowed
 * type, base64, a comment; no control character, at most MAX_PUBLIC_KEY_LINE characters), or
 * undefined. The key itself is not checked: see `inspectPublicKeyLine`.
 */
export function parsePublicKeyLine(line: string): { options?: string; algorithm: string; blob: string } | undefined {
  if (line.length > MAX_PUBLIC_KEY_LINE || /[\x00-\x1f\x7f]/.test(line)) return undefined;
  const m = KEY_LINE.exec(line);
  if (!m?.[2] || !m[3]) return undefined;
  return { ...(m[1] ? { options: m[1].trimEnd() } : {}), algorithm: m[2], blob: m[3] };
}

export type PublicKeyInspection =
  | { ok: true; algorithm: string; blob: string; keyType: SshKeyType; bits: number; fingerprint: string }
  | { ok: false; reason: string };

/**
 * Checks a caller's public key line as the script does with `ssh-keygen -l`: the line's syntax, a
 * key blob of the type the line names, and RSA keys of at least 3072 bits (128-bit security, NIST
 * SP 800-57 Part 1 Rev. 5 table 2: https://csrc.nist.gov/pubs/sp/800/57/pt1/r5/final). The blob
 * formats are RFC 4253 section 6.6, RFC 5656 section 3.1 and RFC 8709 section 4.
 */
export function inspectPublicKeyLine(line: string): PublicKeyInspection {
  const parsed = parsePublicKeyLine(line);
  if (!parsed) return { ok: false, reason: 'not one authorized_keys line with an ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa key' };
  const { algorithm, blob } = parsed;
  const data = Buffer.from(blob, 'base64');
  let at = 0;
  const field = (): Buffer | undefined => {
    if (at + 4 > data.length) return undefined;
    const length = data.readUInt32BE(at);
    if (at + 4 + length > data.length) return undefined;
    const value = data.subarray(at + 4, at + 4 + length);
    at += 4 + length;
    return value;
  };
  const mismatch = { ok: false as const, reason: `the key is not the ${algorithm} key its line says it is` };
  if (field()?.toString('latin1') !== algorithm) return mismatch;
  let keyType: SshKeyType;
  let bits: number;
  if (algorithm === 'ssh-ed25519') {
    if (field()?.length !== 32) return mismatch;
    keyType = 'ed25519';
    bits = 256;
  } else if (algorithm.startsWith('ecdsa-')) {
    const curve = algorithm.slice('ecdsa-sha2-'.length);
    const size = ({ nistp256: 32, nistp384: 48, nistp521: 66 } as Record<string, number>)[curve] ?? 0;
    if (field()?.toString('latin1') !== curve) return mismatch;
    const point = field();
    const uncompressed = point?.[0] === 4 && point.length === 1 + 2 * size;
    const compressed = (point?.[0] === 2 || point?.[0] === 3) && point.length === 1 + size;
    if (!uncompressed && !compressed) return mismatch;
    keyType = 'ecdsa';
    bits = Number(curve.slice('nistp'.length));
  } else {
    const e = field();
    const n = field();
    if (!e || !n || n.length === 0) return mismatch;
    let start = 0;
    while (start < n.length && n[start] === 0) start++;
    const top = n[start] ?? 0;
    bits = start === n.length ? 0 : (n.length - start - 1) * 8 + (32 - Math.clz32(top));
    keyType = 'rsa';
    if (bits < 3072) return { ok: false, reason: `an RSA key of ${bits} bits: at least 3072 bits are needed` };
  }
  if (at !== data.length) return mismatch;
  return { ok: true, algorithm, blob, keyType, bits, fingerprint: blobFingerprint(blob) };
}

/** `SHA256:…` of a key blob (the base64 middle of a public key line), as `ssh-keygen -l -E sha256` prints it. */
export function blobFingerprint(blobBase64: string): string {
  return `SHA256:${createHash('sha256').update(Buffer.from(blobBase64, 'base64')).digest('base64').replace(/=+$/, '')}`;
}

/** The `SHA256:…` fingerprint of the key on an authorized_keys line (options and comment allowed); undefined when it is not one. */
export function lineFingerprint(line: string | undefined): string | undefined {
  const parsed = line === undefined ? undefined : parsePublicKeyLine(line);
  return parsed ? blobFingerprint(parsed.blob) : undefined;
}

/** The request fields about the key. */
/** The key fields of a start request (domain/api/request.ts). */
export interface KeyRequest {
  user?: string;
  publicKey?: string;
  kmsKeyId?: string;
}
export const KEY_REQUEST_FIELDS = ['user', 'publicKey', 'kmsKeyId'] as const;

/**
 * A KMS key as PutParameter's KeyId takes it: a key id, a key ARN, an alias name or an alias ARN
 * (docs/aws-facts.md#parameter-store-and-kms).
 */
export type { SshKeyType } from './cloud';

const KMS_KEY = '(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})';
const KMS_ALIAS = 'alias/[A-Za-z0-9/_-]{1,250}';
export const KMS_KEY_ID = new RegExp(`^(?:${KMS_KEY}|${KMS_ALIAS}|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(?:key/${KMS_KEY}|${KMS_ALIAS}))$`);

export function bad(field: string, message: string): RefusedError {
  return new RefusedError('INVALID_REQUEST', `${field}: ${message}`, 400);
}

/**
 * The key fields of a start request, checked; every message names its field. A private key sent
 * by mistake is refused without being echoed.
 */
export function parseKeyRequest(input: Record<string, unknown>): KeyRequest {
  const { user, publicKey, kmsKeyId } = input;
  const out: KeyRequest = {};
  if (user !== undefined) {
    if (typeof user !== 'string' || !isLinuxUserName(user)) {
      throw bad('user', LINUX_USER_NAME_MESSAGE);
    }
    out.user = user;
  }
  if (publicKey !== undefined) {
    if (typeof publicKey !== 'string') throw bad('publicKey', 'must be one OpenSSH public key line (the content of a .pub file)');
    if (publicKey.includes('PRIVATE KEY'))
      throw bad('publicKey', 'this is a private key: send only the public key (the .pub file), and keep the private key where it is');
    const inspected = inspectPublicKeyLine(publicKey);
    if (!inspected.ok) throw bad('publicKey', inspected.reason);
    // The default is allowed: a stored request (a deferred start) has it filled in.
    if (input.keyType !== undefined && input.keyType !== 'ed25519') throw bad('keyType', 'not with publicKey: the key is yours, no key is generated');
    out.publicKey = publicKey;
  }
  if (kmsKeyId !== undefined) {
    if (typeof kmsKeyId !== 'string' || !KMS_KEY_ID.test(kmsKeyId)) {
      throw bad('kmsKeyId', 'must be a KMS key id, key ARN, alias name (alias/…) or alias ARN');
    }
    if (publicKey !== undefined) throw bad('kmsKeyId', 'not with publicKey: no private key is made, so none is stored');
    out.kmsKeyId = kmsKeyId;
  }
  return out;
}
