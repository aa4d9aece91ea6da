/**
 * The local stack's page at `GET /`: the jobs with their phase timelines, and the fleet's figures
 * that the deployed dashboard draws (infra/deploy/dashboard.ts, same labels). Server-rendered HTML
 * with no script, so that it shows what the stack holds at the moment it is asked.
 */
import type { JobView } from '../../domain/job/job-view';
import { JOB_FIGURES, PHASE_PERCENTILES, SWEEP_FIGURES } from '../deploy/dashboard';
import type { FleetFigures } from './fleet-figures';

const STATUS_CLASS: Record<string, string> = { SUCCEEDED: 'ok', FAILED: 'bad', ROLLING_BACK: 'warn', RUNNING: 'run' };

const esc = (value: unknown): string =>
  String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const seconds = (value: number | undefined): string => (value === undefined ? '–' : value < 10 ? value.toFixed(1) : value.toFixed(0));

/** `refreshSeconds`: the page reloads itself this often (0: never). */
export function renderOperationsPage(figures: FleetFigures, options: { title: string; refreshSeconds: number }): string {
  const counts = JOB_FIGURES.map(({ metric, label }) => card(metric, label, figures.jobCounts[metric] ?? 0));
  counts.push(card('JobsRunning', 'running now', figures.running));
  counts.push(card('HelpersRunning', 'helper instances running', figures.helpersRunning ?? '?', figures.helpersError));
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
${options.refreshSeconds > 0 ? `<meta http-equiv="refresh" content="${options.refreshSeconds}">` : ''}
<title>${esc(options.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>${esc(options.title)}</h1><span class="muted">local stack · simulated time ${esc(figures.now)}</span></header>
<section><h2>Fleet</h2><div class="cards" data-section="fleet">${counts.join('')}</div></section>
<section><h2>Jobs <span class="muted">(newest ${figures.jobs.length} of ${figures.jobCounts.JobsStarted ?? 0})</span></h2>
${figures.jobs.length ? figures.jobs.map((job) => jobCard(job, figures.now)).join('\n') : '<p class="muted" data-empty="jobs">No jobs yet: POST /resets starts one.</p>'}
</section>
<section class="grid">
<div><h2>Phase durations <span class="muted">(simulated seconds, phases that ended done)</span></h2>
<table data-section="phases"><tr><th>phase</th><th>done</th>${PHASE_PERCENTILES.map((p) => `<th>${p}</th>`).join('')}</tr>
${figures.phases
  .filter((p) => p.done > 0)
  .map(
    (p) =>
      `<tr data-phase="${esc(p.phase)}"><td>${esc(p.phase)}</td><td>${p.done}</td>${PHASE_PERCENTILES.map((q) => `<td>${seconds(p[q])}</td>`).join('')}</tr>`,
  )
  .join('\n')}
</table></div>
<div><h2>Queues <span class="muted">(age in real seconds)</span></h2>
<table data-section="queues"><tr><th>queue</th><th title="waiting for a function">visible</th><th title="phases waiting on AWS">delayed</th><th>in flight</th><th>oldest</th><th>DLQ</th></tr>
${figures.queues
  .map(
    (q) =>
      `<tr data-queue="${esc(q.key)}"><td>${esc(q.key)}</td><td>${q.visible}</td><td>${q.delayed}</td><td>${q.inFlight}</td><td>${seconds(q.oldestAgeSeconds)}</td><td class="${q.deadLetters ? 'bad' : ''}">${q.deadLetters}</td></tr>`,
  )
  .join('\n')}
<tr data-queue="events"><td>events (EventBridge DLQ)</td><td colspan="4"></td><td class="${figures.eventsDeadLetters ? 'bad' : ''}">${figures.eventsDeadLetters}</td></tr>
</table></div>
<div><h2>Sweeper <span class="muted">(${figures.sweeper.runs} runs since start)</span></h2>
<table data-section="sweeper">${SWEEP_FIGURES.map(({ metric, label }) => `<tr data-figure="${metric}"><td>${esc(label)}</td><td>${figures.sweeper.totals[metric] ?? 0}</td></tr>`).join('')}</table></div>
</section>
</body>
</html>
`;
}

function card(metric: string, label: string, value: number | string, note?: string): string {
  return `<div class="card" data-figure="${esc(metric)}"${note ? ` title="${esc(note)}"` : ''}><div class="value">${esc(value)}</div><div class="label">${esc(label)}</div></div>`;
}

/** A job and its phases on one time axis, from its creation to its end (or now). */
function jobCard(job: JobView, now: string): string {
  const t0 = Date.parse(job.createdAt);
  const end = Date.parse(job.endedAt ?? now);
  const span = Math.max(1, end - t0);
  const pct = (t: number) => ((Math.min(Math.max(t, t0), end) - t0) / span) * 100;
  const phases = [...job.phases].sort((a, b) => Date.parse(a.startedAt) - Date.parse(b.startedAt));
  const rows = phases.map((phase) => {
    const from = Date.parse(phase.startedAt);
    const to = phase.endedAt ? Date.parse(phase.endedAt) : end;
    const width = Math.max(0.6, pct(to) - pct(from));
    const what = phase.waitingFor && !phase.endedAt ? ` · waiting for ${phase.waitingFor}` : '';
    return `<tr data-phase="${esc(phase.name)}" data-status="${esc(phase.status)}"><td class="phase">${esc(phase.name)}</td><td class="track"><div class="bar ${esc(phase.status)}" style="left:${pct(from).toFixed(2)}%;width:${width.toFixed(2)}%" title="${esc(`${phase.name}: ${phase.status}, ${seconds(phase.durationSeconds)} s${what}`)}"></div></td><td class="num">${seconds((from - t0) / 1000)}</td><td class="num">${phase.endedAt ? seconds((to - t0) / 1000) : '…'}</td></tr>`;
  });
  const error = job.error
    ? `<div class="error">${esc(job.error.code)} in ${esc(job.error.phase)}: ${esc(job.error.message)}${job.instanceRestored !== undefined ? ` · instance restored: ${job.instanceRestored}` : ''}</div>`
    : '';
  return `<article class="job" data-job-id="${esc(job.jobId)}" data-status="${esc(job.status)}">
<div class="job-head"><span class="badge ${STATUS_CLASS[job.status] ?? ''}">${esc(job.status)}</span> <b>${esc(job.jobId)}</b> ${esc(job.instanceId)} · ${esc(job.platform)}${job.mode ? ` · ${esc(job.mode.chosen)}` : ''} · ${seconds((end - t0) / 1000)} s${job.currentPhases.length ? ` · now: ${esc(job.currentPhases.join(', '))}` : ''}</div>
${error}<table class="timeline"><tr><th>phase</th><th></th><th>from (s)</th><th>to (s)</th></tr>${rows.join('')}</table>
</article>`;
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;padding:16px 24px;color:#1d2733;background:#f5f7fa}
header{display:flex;align-items:baseline;gap:16px}h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin:18px 0 8px}
.muted{color:#6b7785;font-weight:normal;font-size:12px}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:8px 14px;min-width:120px}
.card .value{font-size:24px;font-weight:600}.card .label{color:#6b7785;font-size:12px}
.job{background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:8px 12px;margin-bottom:10px}
.job-head{margin-bottom:4px}.error{color:#a4262c;margin:4px 0}
.badge{display:inline-block;border-radius:4px;padding:0 6px;font-size:12px;font-weight:600;color:#fff;background:#6b7785}
.badge.ok{background:#1e7e34}.badge.bad{background:#a4262c}.badge.warn{background:#b36b00}.badge.run{background:#0b5cad}
table{border-collapse:collapse;background:#fff}th,td{padding:2px 8px;text-align:left;font-size:12px}th{color:#6b7785;font-weight:600}
table.timeline{width:100%}.timeline td.phase{width:170px;white-space:nowrap}.timeline td.num{width:60px;text-align:right;color:#6b7785}
td.track{position:relative;height:14px;background:#f0f3f6}.bar{position:absolute;top:2px;height:10px;border-radius:2px;background:#0b5cad}
.bar.done{background:#2f8f46}.bar.failed{background:#a4262c}.bar.running{background:#0b5cad}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:16px}.grid table{width:100%}
td.bad{color:#a4262c;font-weight:600}
`;
