import { MemoryJobStore } from '../../../infra/memory/memory-job-store';
import { describeJobStoreContract } from '../job-store.contract';

describeJobStoreContract('MemoryJobStore', async () => new MemoryJobStore());
