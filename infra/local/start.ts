/**
 * `npm start`: the service on this machine (API on 127.0.0.1:$PORT, workers, local AWS stand-ins,
 * sample instances). State stays under .local/ so that a restart resumes running jobs (even after
 * `kill -9`); `npm start -- --fresh` forgets it. It reads the configuration a deployment reads
 * (infra/local/start-options.ts).
 */
import { createLog } from '../observability/logger';
import { sampleInstances } from '../sim/samples';
import { startLocalStack } from './local-stack';
import { localStackOptions } from './start-options';

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const env = process.env;
  const options = localStackOptions(env, process.argv.slice(2), createLog());
  const sim = options.sim;
  const stack = await startLocalStack(options);
  const lines = [
    '',
    `reset-access is running: API ${stack.apiUrl}`,
    `The jobs and the fleet's figures, in a browser: ${stack.apiUrl}/`,
    sim
      ? `EC2, SSM and KMS: the simulated region (time runs ${options.simSpeed}x), state in ${options.dataDir}/`
      : `EC2, SSM and KMS: the AWS the environment points at (region ${options.config?.region}, helper instance profile ${options.config?.helperInstanceProfile}); the sweeper runs on the deployed schedule`,
  ];
  if (sim) {
    lines.push('', 'Sample instances:');
    for (const s of sampleInstances) lines.push(`  ${s.instanceId}  ${s.platform.padEnd(7)} ${s.state.padEnd(7)} ${s.name.padEnd(18)} ${s.demonstrates}`);
  }
  const id = sampleInstances[0]!.instanceId;
  lines.push(
    '',
    'Start a reset:',
    `  curl -s -X POST ${stack.apiUrl}/resets -H 'content-type: application/json' -d '{"instanceId":"${id}"}'`,
    'Then follow it:',
    `  curl -s ${stack.apiUrl}/resets/<jobId>`,
    'Or with the CLI:',
    `  npx reset-access start ${id} --wait${stack.apiUrl === 'http://127.0.0.1:3000' ? '' : ` --api ${stack.apiUrl}`}`,
    `Alarms and Reset Access Requested events: the local EventBridge at ${stack.eventBusUrl} (default bus and ${stack.eventBusName})`,
    `  aws events put-events --endpoint-url ${stack.eventBusUrl} --entries '[{"Source":"reset-access.requests","DetailType":"Reset Access Requested","EventBusName":"${stack.eventBusName}","Detail":"{\\"instanceId\\":\\"${id}\\"}"}]'`,
    '',
  );
  process.stdout.write(lines.join('\n') + '\n');
  const stop = async () => {
    await stack.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((error: Error) => {
  process.stderr.write(`failed to start: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
