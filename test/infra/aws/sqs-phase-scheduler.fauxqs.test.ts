import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import path from 'node:path';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SqsPhaseScheduler } from '../../../infra/aws/sqs-phase-scheduler';

/**
 * fauxqs is ESM-only (its package exports only an `import` condition), which jest's CommonJS
 * runtime cannot load: it runs in a child process that prints the port it listens on.
 */
async function startFauxqs(): Promise<{ child: ChildProcessWithoutNullStreams; endpoint: string }> {
  const script =
    "import { startFauxqs } from 'fauxqs'; const server = await startFauxqs({ port: 0, logger: false }); console.log(JSON.stringify({ port: server.port }));";
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: path.resolve(__dirname, '../../..') });
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    let errors = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((candidate) => candidate.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    child.on('exit', (code) => reject(new Error(`fauxqs exited with ${code}: ${errors}`)));
  });
  return { child, endpoint: `http://127.0.0.1:${port}` };
}

describe('SqsPhaseScheduler on fauxqs', () => {
  let fauxqs: { child: ChildProcessWithoutNullStreams; endpoint: string };
  let sqs: SQSClient;

  beforeAll(async () => {
    fauxqs = await startFauxqs();
    // The queue URLs fauxqs answers name `sqs.<region>.localhost`, which does not resolve here:
    // an explicit endpoint makes the SDK send there instead of to the queue URL's host.
    sqs = new SQSClient({ endpoint: fauxqs.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  });

  afterAll(async () => {
    sqs?.destroy();
    if (fauxqs && fauxqs.child.exitCode === null) {
      const exited = new Promise((resolve) => fauxqs.child.once('exit', resolve));
      fauxqs.child.kill('SIGTERM');
      await exited;
    }
  });

  it('delivers the phase message after its delay, not before', async () => {
    // Prepare
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'reset-access-stop-target' }));
    const scheduler = new SqsPhaseScheduler(sqs, { queueUrlFor: () => QueueUrl! });

    // Act
    const sentAt = Date.now();
    await scheduler.later({ jobId: 'job-fauxqs', phase: 'stop-target', attempt: 3 }, 2);
    const early = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 0 }));
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5, MaxNumberOfMessages: 10 }));
    const receivedAt = Date.now();

    // Assess
    expect(early.Messages ?? []).toHaveLength(0);
    expect((received.Messages ?? []).map((m) => JSON.parse(m.Body ?? 'null'))).toEqual([{ jobId: 'job-fauxqs', phase: 'stop-target', attempt: 3 }]);
    expect(receivedAt - sentAt).toBeGreaterThanOrEqual(1900);
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: received.Messages![0].ReceiptHandle }));
  });
});
