/**
 * `npm start`: the service on this machine (API on 127.0.0.1:$PORT, workers, local AWS stand-ins,
 * sample instances). State stays under .local/ so that a restart resumes running jobs;
 * `npm start -- --fresh` forgets it.
 */
import { loadConfig } from '../wiring/config';
import { createLog } from '../observability/logger';
import { sampleInstances } from '../sim/samples';
import { startLocalStack } from './local-stack';

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const env = process.env;
  const sim = env.RESET_ACCESS_SIM !== 'off';
  const stack = await startLocalStack({
    port: Number(env.PORT ?? 3000),
    dataDir: env.RESET_ACCESS_DATA_DIR ?? '.local',
    simSpeed: Number(env.SIM_SPEED ?? 20),
    sim,
    fresh: process.argv.includes('--fresh'),
    stage: env.STAGE ?? 'local',
    // The settings a deployment takes from RESET_ACCESS_CONFIG (an access rule, deadlines…).
    ...(env.RESET_ACCESS_CONFIG ? { config: loadConfig(env) } : {}),
    log: createLog(),
  });
  const lines = [
    '',
    `reset-access is running: API ${stack.apiUrl}`,
    `The jobs and the fleet's figures, in a browser: ${stack.apiUrl}/`,
    sim ? `EC2 and SSM: the simulated region (time runs ${env.SIM_SPEED ?? 20}x), state in ${env.RESET_ACCESS_DATA_DIR ?? '.local'}/` : 'EC2 and SSM: the AWS the environment points at',
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
