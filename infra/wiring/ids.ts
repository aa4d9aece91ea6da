import { randomBytes } from 'node:crypto';
import type { IdGenerator } from '../../domain/ports';

/** Job ids sort by creation time: `r-` + milliseconds in base 36 + 8 random base-36 characters. */
export const randomJobIds: IdGenerator = {
  jobId() {
    const random = Array.from(randomBytes(8), (b) => (b % 36).toString(36)).join('');
    return `r-${Date.now().toString(36)}${random}`;
  },
};
