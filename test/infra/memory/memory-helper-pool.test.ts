import { MemoryHelperPool } from '../../../infra/memory/memory-helper-pool';
import { describeHelperPoolContract } from '../helper-pool.contract';

describeHelperPoolContract('MemoryHelperPool', async () => new MemoryHelperPool());
