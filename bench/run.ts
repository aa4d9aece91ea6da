/**
 * `npm run bench`: the full benchmark (500-job fleet, every function's cold start). `--smoke` runs
 * the small version the tests use (a 20-job fleet, one function, one load).
 */
import { runBench } from './bench';

async function main(): Promise<void> {
  const smoke = process.argv.includes('--smoke');
  const result = await runBench({
    fleetSize: smoke ? 20 : 500,
    fleetPerAction: !smoke,
    coldStart: smoke ? { only: ['stop-target'], runs: 1 } : { runs: 5 },
    print: (line) => console.log(line),
  });
  for (const line of result.lines) console.log(line);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
