import { MemoryStopBatchStore } from '../../../infra/memory/memory-stop-batch-store';
import { describeStopBatchStoreContracts } from '../stop-batch-store.contract';

describeStopBatchStoreContracts('memory', async () => new MemoryStopBatchStore());
