/**
 * The key pairs the online reset makes in the Lambda (and the simulated helper makes): what
 * `ssh-keygen` reads, and nothing of the private key left in the buffers made on the way.
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSshKeyPair } from '../../../infra/aws/ssh-key-pair';

const hasSshKeygen = spawnSync('ssh-keygen', ['-?']).error === undefined;

/** The 32-byte Ed25519 seed inside an unencrypted openssh-key-v1 private key (PROTOCOL.key). */
function ed25519Seed(privateKey: string): Buffer {
  const bytes = Buffer.from(privateKey.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const reader = (buffer: Buffer, start: number) => {
    let at = start;
    return {
      string: () => {
        const length = buffer.readUInt32BE(at);
        const value = buffer.subarray(at + 4, at + 4 + length);
        at += 4 + length;
        return value;
      },
      skip: (n: number) => void (at += n),
    };
  };
  const outer = reader(bytes, 'openssh-key-v1\0'.length);
  outer.string(); // cipher
  outer.string(); // kdf
  outer.string(); // kdf options
  outer.skip(4); // number of keys
  outer.string(); // public key blob
  const inner = reader(outer.string(), 8); // the private section, after its two check integers
  inner.string(); // key type
  inner.string(); // public key
  return Buffer.from(inner.string().subarray(0, 32)); // seed, then the public key again
}

describe('generateSshKeyPair', () => {
  (hasSshKeygen ? it.each(['ed25519', 'rsa'] as const) : it.skip.each(['ed25519', 'rsa'] as const))(
    'makes a %s pair ssh-keygen reads, with its fingerprint',
    (keyType) => {
      // Prepare
      const dir = mkdtempSync(join(tmpdir(), 'ra-keypair-'));
      const file = join(dir, 'key');
      try {
        // Act
        const pair = generateSshKeyPair(keyType, 'reset-access-r-1');
        writeFileSync(file, pair.privateKey, { mode: 0o600 });
        const derived = spawnSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' });
        const listed = spawnSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', file], { encoding: 'utf8' });
        // Assess
        expect(derived.stdout.trim()).toBe(pair.publicKey);
        expect(listed.stdout.split(' ')[1]).toBe(pair.fingerprint);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('leaves nothing of the private key in the buffers it made: every one is zeroed before it returns', () => {
    // Prepare: every buffer OpenSSL exports a private key to, and every concatenation.
    const privateKeyObject = Object.getPrototypeOf(generateKeyPairSync('ed25519').privateKey) as { export: () => unknown };
    const exports = jest.spyOn(privateKeyObject, 'export');
    const concats = jest.spyOn(Buffer, 'concat');
    try {
      // Act
      const pair = generateSshKeyPair('ed25519', 'c');
      // Assess
      const seed = ed25519Seed(pair.privateKey);
      const made = [...exports.mock.results, ...concats.mock.results].map((r) => r.value as unknown).filter((v): v is Buffer => Buffer.isBuffer(v));
      expect(made.length).toBeGreaterThan(5);
      expect(made.filter((buffer) => buffer.includes(seed))).toEqual([]);
    } finally {
      exports.mockRestore();
      concats.mockRestore();
    }
  });
});
