/** How the CLI shows jobs and instances to a person (`--json` shows the API's JSON instead). */
import type { JobView } from '../../domain/job/job-view';
import type { InstanceView } from '../../domain/api/list-instances';

export function duration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return '';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** One finished phase, as `--wait` prints it. */
export function phaseLine(phase: JobView['phases'][number]): string {
  const mark = phase.status === 'done' ? '✓' : '✗';
  return `  ${mark} ${phase.name.padEnd(22)} ${duration(phase.durationSeconds).padStart(7)}${phase.status === 'failed' ? '  failed' : ''}`;
}

/** Why a Windows job left the fast path for a Windows helper, and where that helper came from; undefined when it did not. */
export function fallbackLine(job: JobView): string | undefined {
  const fallback = job.windowsFallback;
  if (!fallback) return undefined;
  const helper = fallback.windowsHelper
    ? `, Windows helper ${fallback.windowsHelper.instanceId} (${fallback.windowsHelper.source === 'pool' ? 'from the warm pool' : 'launched'})`
    : '';
  const release = fallback.volumeRelease ? `, volume release ${fallback.volumeRelease}` : '';
  return `NTFS rescue on the Linux helper did not do it: ${fallback.code}: ${fallback.reason}${helper}${release}`;
}

export function jobOutcome(job: JobView): string {
  const lines: string[] = [];
  const took = job.endedAt ? duration((Date.parse(job.endedAt) - Date.parse(job.createdAt)) / 1000) : '';
  if (job.status === 'SUCCEEDED') {
    lines.push(`SUCCEEDED${took ? ` in ${took}` : ''}: ${job.instanceId} has a new way in.`);
    const o = job.outputs;
    if (o.sshKeyParameter) {
      lines.push(`  private key:   ${o.sshKeyParameter} (SecureString in Parameter Store)`);
      lines.push(
        `                 aws ssm get-parameter --with-decryption --name ${o.sshKeyParameter} --query Parameter.Value --output text > key.pem && chmod 600 key.pem`,
      );
    }
    if (o.sshUser) lines.push(`  account:       ${o.sshUser}${o.authorizedKeysFile ? ` (${o.authorizedKeysFile})` : ''}`);
    else if (o.usersWithNewKey?.length) lines.push(`  users:         ${o.usersWithNewKey.join(', ')}`);
    if (o.sshKeyFingerprint) lines.push(`  fingerprint:   ${o.sshKeyFingerprint}${o.sshKeyParameter ? '' : ' (your own key: no private key was made)'}`);
    if (o.launchAgents?.length) lines.push(`  launch agents: ${o.launchAgents.join(', ')} (make the new Administrator password)`);
    if (o.passwordReadyAt) lines.push(`  password:      made at ${o.passwordReadyAt}, after the reboot`);
    if (o.passwordRetrieval) lines.push(`  read it with:  ${o.passwordRetrieval}`);
    if (o.passwordEnabledImageId) lines.push(`  password AMI:  ${o.passwordEnabledImageId} (password generation re-enabled)`);
    if (o.backupImageId) lines.push(`  backup AMI:    ${o.backupImageId}${o.backupImageState ? ` (${o.backupImageState})` : ''}`);
    if (o.backupImageProblem) lines.push(`  WARNING:       ${o.backupImageProblem}`);
    if (o.publicIpWillChange) lines.push('  note:          the instance had an auto-assigned public IP; it has a new one now');
    for (const note of o.rescueNotes ?? []) lines.push(`  note:          ${note}`);
  } else if (job.status === 'FAILED') {
    lines.push(`FAILED${took ? ` after ${took}` : ''}: ${job.error ? `${job.error.code} in ${job.error.phase}: ${job.error.message}` : 'no reason recorded'}`);
    if (job.instanceRestored !== undefined) lines.push(`  instance restored: ${job.instanceRestored ? 'yes (rolled back)' : 'NO'}`);
    if (job.rollbackError) lines.push(`  rollback error: ${job.rollbackError.code}: ${job.rollbackError.message}`);
    if (job.outputs.backupImageId) lines.push(`  backup AMI: ${job.outputs.backupImageId}`);
  } else {
    lines.push(`${job.status}: ${job.currentPhases.join(', ') || '(between phases)'}`);
    if (job.error) lines.push(`  rolling back after ${job.error.code}: ${job.error.message}`);
  }
  return lines.join('\n');
}

export function jobDetails(job: JobView): string {
  const head = [
    `job         ${job.jobId}`,
    `instance    ${job.instanceId}${job.platform ? ` (${job.platform})` : ''}`,
    `status      ${job.status}`,
    `started     ${job.createdAt}${job.requestedBy ? ` by ${job.requestedBy}` : ''}`,
    ...(job.windowsFallback ? [`fallback    ${fallbackLine(job)}`] : []),
  ];
  const phases = job.phases.length
    ? table([['PHASE', 'STATUS', 'TOOK', 'WAITING FOR'], ...job.phases.map((p) => [p.name, p.status, duration(p.durationSeconds), p.waitingFor ?? ''])])
    : '(no phase yet)';
  return [...head, '', phases, '', jobOutcome(job)].join('\n');
}

export function jobTable(jobs: JobView[]): string {
  if (jobs.length === 0) return 'no jobs';
  return table([
    ['JOB', 'INSTANCE', 'STATUS', 'CREATED', 'PHASE / OUTCOME'],
    ...jobs.map((j) => [j.jobId, j.instanceId, j.status, j.createdAt, j.status === 'FAILED' ? (j.error?.code ?? '') : j.currentPhases.join(',')]),
  ]);
}

export function instanceTable(instances: InstanceView[]): string {
  if (instances.length === 0) return 'no instances';
  return table([
    ['INSTANCE', 'NAME', 'STATE', 'PLATFORM', 'OPT-IN', 'RESETTABLE'],
    ...instances.map((i) => [
      i.instanceId,
      i.name ?? '',
      i.state,
      i.platform,
      [i.optIn.allowed ? 'allowed' : '', i.optIn.auto ? 'auto' : ''].filter(Boolean).join(',') || '-',
      i.activeJobId ? `no: job ${i.activeJobId} running` : i.resettable ? 'yes' : `no: ${i.blockers.map((b) => b.code).join(', ')}`,
    ]),
  ]);
}
