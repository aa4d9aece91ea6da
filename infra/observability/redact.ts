/**
 * The last line of defence for secrets in what leaves a process (logs, events): nothing secret is
 * meant to be there (the private key goes from the helper straight to Parameter Store), but a
 * script's stderr tail or an AWS error message could echo one. PEM private keys (OpenSSH, PKCS#1,
 * PKCS#8, encrypted) are replaced wholesale; a truncated one from its header to the end of the
 * text, or, when the header was cut off (a stderr tail), from the start of the text to its footer.
 * Whatever `PRIVATE KEY` marker is left (a stray header or footer) is defused too, so none can pass.
 */
const PRIVATE_KEY_BLOCK = /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)/g;
const HEADLESS_KEY_TAIL = /^[\s\S]*-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----/;

export const REDACTED = '[REDACTED]';

export function redactText(text: string): string {
  if (!text.includes('PRIVATE KEY')) return text;
  return text
    .replace(PRIVATE_KEY_BLOCK, REDACTED)
    .replace(HEADLESS_KEY_TAIL, REDACTED)
    .replace(/PRIVATE KEY/g, 'PRIVATE-KEY');
}

/** A deep copy of `value` with every string redacted (and object keys too). */
export function redactSecrets<T>(value: T): T {
  if (typeof value === 'string') return redactText(value) as T;
  if (Array.isArray(value)) return value.map((entry) => redactSecrets(entry)) as T;
  if (value instanceof Error) return redactSecrets({ name: value.name, message: value.message }) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, entry]) => [redactText(key), redactSecrets(entry)])) as T;
  }
  return value;
}
