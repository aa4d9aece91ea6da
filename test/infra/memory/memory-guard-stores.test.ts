import { MemoryAdmissionStore, MemoryCooldownStore, MemoryIdempotencyStore } from '../../../infra/memory/memory-guard-stores';
import { describeGuardStoreContracts } from '../guard-stores.contract';

describeGuardStoreContracts('memory', async () => ({
  idempotency: new MemoryIdempotencyStore(),
  cooldowns: new MemoryCooldownStore(),
  admission: new MemoryAdmissionStore(),
}));
