/**
 * The sweeper, on a schedule (serverless.yml: every 10 minutes): one run of the domain's sweep,
 * its summary emitted as metrics. Dry run: `RESET_ACCESS_CONFIG` `{"sweeper":{"dryRun":true}}` or
 * `SWEEPER_DRY_RUN=true`.
 */
import { sweep } from '../domain/sweeper/sweeper';
import { createMetrics } from '../infra/observability/job-metrics';
import { publishSweepMetrics } from '../infra/observability/sweep-metrics';
import { lambdaEntry } from './lambda-entry';
import { lambdaSweeperPorts } from './lambda-ports';

// The `service` dimension names the deployment, as the job metrics do (`<service>-<stage>`).
const metrics = createMetrics(process.env.POWERTOOLS_SERVICE_NAME ?? process.env.EVENT_BUS_NAME ?? 'reset-access');

export const handler = lambdaEntry(async () => {
  const summary = await sweep(lambdaSweeperPorts());
  publishSweepMetrics(metrics, summary);
  const { actions: _actions, ...counts } = summary;
  return counts;
});
