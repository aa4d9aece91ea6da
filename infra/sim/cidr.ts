import { fail } from './sim-error';

/** An IPv4 CIDR block as numbers. */
export interface Cidr {
  base: number;
  prefix: number;
}

function ipToNumber(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    n = n * 256 + Number(part);
  }
  return n;
}

export function numberToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** Parses `a.b.c.d/n`, answering `InvalidParameterValue` like EC2 when it is not one. */
export function parseCidr(text: string | undefined, parameter = 'cidrBlock'): Cidr {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text ?? '');
  const base = m ? ipToNumber(m[1]) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (base === undefined || !(prefix >= 0 && prefix <= 32)) {
    fail('InvalidParameterValue', `Value (${text}) for parameter ${parameter} is invalid. This is not a valid CIDR block.`);
  }
  const size = 2 ** (32 - prefix);
  return { base: base - (base % size), prefix };
}

export function cidrSize(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && inner.base >= outer.base && inner.base + cidrSize(inner) <= outer.base + cidrSize(outer);
}

export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + cidrSize(b) && b.base < a.base + cidrSize(a);
}

/** The `host`-th address of the block. */
export function cidrHost(c: Cidr, host: number): string {
  return numberToIp(c.base + host);
}
