import { generateKeyPairSync } from 'node:crypto';
import { REDACTED, redactSecrets, redactText } from '../../../infra/observability/redact';

const pkcs8 = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const openssh = `-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDdKz3wDN7Lq9r7kqHnS6mAV0l3aYkZxw1R4m4W1F8g8QAAAJgk3zV0JN81\n-----END OPENSSH PRIVATE KEY-----\n`;
const body = (pem: string) => pem.split('\n').slice(1, -2).join('');

describe('redactText', () => {
  it.each([
    ['PKCS#8', pkcs8],
    ['OpenSSH', openssh],
  ])('replaces a whole %s private key and keeps the text around it', (_kind, pem) => {
    // Act
    const out = redactText(`ssh-keygen wrote\n${pem}and then stopped`);
    // Assess
    expect(out).toBe(`ssh-keygen wrote\n${REDACTED}\nand then stopped`);
    expect(out).not.toContain(body(pem).slice(0, 20));
  });

  it('removes a key cut short at either end (a tail of stderr)', () => {
    // Prepare
    const headless = openssh.slice(openssh.indexOf('\n') + 10);
    const footless = openssh.slice(0, openssh.indexOf('-----END'));
    // Act
    const outs = [redactText(`tail: ${headless}`), redactText(`head: ${footless}`)];
    // Assess
    for (const out of outs) {
      expect(out).not.toMatch(/PRIVATE KEY/);
      expect(out).not.toContain('QyNTUxOQAAACDdKz3w');
    }
  });

  it('leaves text without a key alone and defuses stray mentions', () => {
    // Act / Assess
    expect(redactText('phase done')).toBe('phase done');
    expect(redactText('could not store the private key')).toBe('could not store the private key');
    expect(redactText('a stray -----END RSA PRIVATE KEY----- marker')).not.toMatch(/PRIVATE KEY/);
  });
});

describe('redactSecrets', () => {
  it('redacts every string of a nested value, errors included', () => {
    // Prepare
    const value = { a: [{ b: `x ${openssh}` }], error: new Error(`failed: ${pkcs8}`), n: 1 };
    // Act
    const out = JSON.stringify(redactSecrets(value));
    // Assess
    expect(out).not.toMatch(/PRIVATE KEY/);
    expect(out).toContain('"n":1');
    expect(out).toContain('failed: [REDACTED]');
  });
});
