/**
 * The local page (`GET /` of the local API) after a demo run, loaded in headless Chromium as an
 * operator would: every job with its phase timeline, and the fleet's figures as the job table,
 * the queues and the sweeper have them. The demo (`npm run demo -- --serve`: a Linux and a Windows
 * reset by the volume swap and two online ones) runs in a child process (fauxqs is ESM-only, jest
 * runs CommonJS) and keeps its stack up; Debian's chromium (`.ci/run` installs it) is driven by
 * playwright-core. A full-page screenshot is saved to .local/screenshots/operations-page.png.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { JobView } from '../../domain/job/job-view';
import { PHASES } from '../../domain/pipeline/phases';
import { consumers } from '../../infra/deploy/topology';

const ROOT = join(__dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = join(ROOT, '.local', 'screenshots', 'operations-page.png');
/** Generous for a loaded machine: the demo's jobs take under a minute of real time. */
const DEMO_TIMEOUT_MS = 240_000;

/** Runs the demo with `--serve`; resolves with the page's URL once its checks are done. */
function startDemo(): { child: ChildProcess; url: Promise<string>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/demo.ts', '--serve'], {
    cwd: ROOT,
    env: { ...process.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the demo did not finish in ${DEMO_TIMEOUT_MS / 1000} s:\n${output}`)), DEMO_TIMEOUT_MS);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const found = /the jobs and the fleet's figures: (http:\/\/127\.0\.0\.1:\d+)\//.exec(output);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]!);
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the demo exited (${code}):\n${output}`));
    });
  });
  return { child, url, output: () => output };
}

describe('the local page, in headless Chromium, after a demo run', () => {
  const profile = mkdtempSync(join(tmpdir(), 'reset-access-chromium-'));
  let demo: ReturnType<typeof startDemo>;
  let apiUrl: string;
  let browser: BrowserContext;
  let page: Page;
  let jobs: JobView[];

  beforeAll(async () => {
    demo = startDemo();
    apiUrl = await demo.url;
    jobs = ((await (await fetch(`${apiUrl}/resets`)).json()) as { jobs: JobView[] }).jobs;
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage();
    const response = await page.goto(`${apiUrl}/?refresh=0`);
    if (response?.status() !== 200) throw new Error(`GET / answered ${response?.status()}: ${await response?.text()}`);
  }, DEMO_TIMEOUT_MS + 60_000);

  afterAll(async () => {
    await browser?.close();
    if (demo && demo.child.exitCode === null) {
      const exited = new Promise((resolve) => demo.child.once('exit', resolve));
      demo.child.kill('SIGTERM');
      await exited;
    }
    rmSync(profile, { recursive: true, force: true });
  });

  it('ran the demo: its four resets succeeded', () => {
    // Assess (not the demo's own real-time check, which a loaded machine may miss)
    expect(jobs.map((j) => [j.platform, j.mode?.chosen, j.status]).sort()).toEqual([
      ['linux', 'offline', 'SUCCEEDED'],
      ['linux', 'online', 'SUCCEEDED'],
      ['windows', 'offline', 'SUCCEEDED'],
      ['windows', 'online', 'SUCCEEDED'],
    ]);
  });

  it('shows every job with its status and a timeline bar for each phase it ran, in the order they started', async () => {
    for (const job of jobs) {
      // Prepare
      const card = page.locator(`article[data-job-id="${job.jobId}"]`);
      const byStart = [...job.phases].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
      // Act
      const rows = await card.locator('tr[data-phase]').evaluateAll((trs) =>
        trs.map((tr) => ({
          phase: tr.getAttribute('data-phase'),
          status: tr.getAttribute('data-status'),
          width: tr.querySelector('.bar')?.getBoundingClientRect().width ?? 0,
        })),
      );
      // Assess
      expect(await card.getAttribute('data-status')).toBe(job.status);
      expect(rows.map((r) => [r.phase, r.status])).toEqual(byStart.map((p) => [p.name, p.status]));
      for (const row of rows) expect(row.width).toBeGreaterThan(0);
    }
  });

  it("shows the fleet's counts as the job table has them", async () => {
    // Prepare
    const figure = async (name: string) => (await page.locator(`[data-figure="${name}"] .value`).textContent())?.trim();
    // Act
    const counts = {
      started: await figure('JobsStarted'),
      succeeded: await figure('JobsSucceeded'),
      failed: await figure('JobsFailed'),
      rolledBack: await figure('JobsRolledBack'),
      running: await figure('JobsRunning'),
      helpers: await figure('HelpersRunning'),
    };
    // Assess: every helper was terminated by its job's cleanup.
    expect(counts).toEqual({ started: '4', succeeded: '4', failed: '0', rolledBack: '0', running: '0', helpers: '0' });
  });

  it('shows phase durations p50 ≤ p95 for the phases that ran, a row for every queue, and the sweeper run', async () => {
    // Act
    const phases = await page
      .locator('table[data-section="phases"] tr[data-phase]')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    const queues = await page.locator('table[data-section="queues"] tr[data-queue]').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-queue')));
    const sweeper = await page.locator('section h2', { hasText: 'Sweeper' }).textContent();
    // Assess
    const ran = new Set(jobs.flatMap((j) => j.phases.filter((p) => p.status === 'done').map((p) => p.name)));
    expect(phases.map(([name]) => name)).toEqual(PHASES.filter((p) => ran.has(p)));
    for (const [, done, p50, p95] of phases) {
      expect(Number(done)).toBeGreaterThan(0);
      expect(Number(p50)).toBeLessThanOrEqual(Number(p95));
    }
    expect(queues).toEqual([...consumers({ service: 'ec2-reset-access', stage: 'local' }).map((c) => c.key), 'events']);
    expect(Number(/\((\d+) runs since start\)/.exec(sweeper ?? '')?.[1])).toBeGreaterThan(0);
  });

  it('saves a screenshot of the whole page', async () => {
    // Act
    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    // Assess: a PNG, of a page taller than the window (three job timelines and the tables).
    const png = readFileSync(SCREENSHOT);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.readUInt32BE(20)).toBeGreaterThan(900);
  });
});
