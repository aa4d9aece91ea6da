/**
 * `serverless package` must work with no network and no AWS credentials (docs/architecture.md#layout-and-tests), and the
 * template it generates must hold what the design promises: a function, queue, DLQ, rule and
 * role per phase, the job table as the store defines it, the IAM-authorised HTTP API, least
 * privilege with destructive EC2 actions limited to the service's tagged resources.
 *
 * The `serverless` command is osls 3.x (package.json's alias), which has no telemetry, no
 * notifications, no auto-update and no dashboard plugin: packaging reaches no network and needs no
 * credentials as long as serverless.yml resolves nothing from AWS (no `${aws:accountId}`,
 * `${ssm:…}`). The run below has a
 * clean environment (no AWS_* variables, an empty HOME, no AWS config files) and a preloaded spy that
 * records every outbound connection and DNS lookup of any Node process it starts: the test fails on
 * any.
 *
 * It packages a copy of the service in a temporary directory: handler files that exist are copied,
 * missing ones (while the handlers are being written) get a placeholder, reported on the console.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { PHASES, type PhaseName } from '../../domain/pipeline/phases';
import { jobTableDefinition } from '../../infra/aws/dynamodb-job-store';
import { API_ROUTES } from '../../handlers/api-routes';
import {
  ALARM_SOURCE,
  ALARM_STATE_CHANGE_DETAIL_TYPE,
  EVENT_SOURCE,
  PHASE_REQUESTED_DETAIL_TYPE,
  RESET_REQUESTED_DETAIL_TYPE,
  RESET_REQUESTED_SOURCE,
} from '../../infra/messages/events';
import { JOB_TABLE_TTL_ATTRIBUTE } from '../../infra/aws/dynamodb-job-store';
import { METRIC, METRICS_NAMESPACE } from '../../infra/observability/job-metrics';
import { SWEEP_METRIC } from '../../infra/observability/sweep-metrics';
import { summariseTemplate } from './template-summary';
import { UNNARROWED_TARGET_ACTIONS } from '../../infra/deploy/grants';
import { resourcesOf } from '../../infra/deploy/cloudformation';

const ROOT = resolve(__dirname, '../..');
const SERVICE = 'ec2-reset-access';
const STAGE = 'test';
const ONE_MB = 1024 * 1024;

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}
interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
interface PolicyDocument {
  Statement: Statement[];
}
type Ref = { Ref: string };
type GetAtt = { 'Fn::GetAtt': [string, string] };

// ---------------------------------------------------------------------------------------------
// Packaging

/** Every Lambda handler serverless.yml names: the API, the alarm function and one per phase. */
const HANDLER_FILES = ['handlers/api.ts', 'handlers/alarm.ts', 'handlers/phase.ts'];

/** Top-level entries of the repository that the copy must not share. */
const NOT_LINKED = new Set(['.git', '.serverless', '.esbuild', '.local', 'coverage', 'handlers', 'serverless.yml']);

/** Records outbound connections and DNS lookups of every Node process it is preloaded into. */
const NETWORK_SPY = `
const fs = require('fs');
const net = require('net');
const dns = require('dns');
const logFile = process.env.NETWORK_SPY_LOG;
const record = (what) => fs.appendFileSync(logFile, JSON.stringify({ pid: process.pid, ...what }) + '\\n');
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const options = args[0] && typeof args[0] === 'object' && !Array.isArray(args[0]) ? args[0] : Array.isArray(args[0]) ? args[0][0] : { port: args[0], host: args[1] };
  if (!options.path) record({ connect: String(options.host || 'localhost') + ':' + String(options.port) });
  return connect.apply(this, args);
};
for (const target of [dns, dns.promises]) {
  const lookup = target.lookup;
  target.lookup = function (host, ...rest) {
    record({ lookup: host });
    return lookup.call(this, host, ...rest);
  };
}
`;

interface PackageRun {
  dir: string;
  outDir: string;
  output: string;
  exitCode: number | null;
  networkAttempts: Array<Record<string, unknown>>;
  placeholders: string[];
}

function stageService(): { dir: string; placeholders: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'sls-package-'));
  for (const entry of readdirSync(ROOT)) {
    if (!NOT_LINKED.has(entry)) symlinkSync(join(ROOT, entry), join(dir, entry));
  }
  copyFileSync(join(ROOT, 'serverless.yml'), join(dir, 'serverless.yml'));
  // The real handlers (copied, so that their relative imports resolve through the linked dirs).
  const copyTree = (from: string) => {
    if (!existsSync(from)) return;
    for (const entry of readdirSync(from)) {
      const source = join(from, entry);
      const target = join(dir, relative(ROOT, source));
      if (statSync(source).isDirectory()) copyTree(source);
      else {
        mkdirSync(dirname(target), { recursive: true });
        copyFileSync(source, target);
      }
    }
  };
  copyTree(join(ROOT, 'handlers'));
  const placeholders = HANDLER_FILES.filter((file) => !existsSync(join(ROOT, file)));
  for (const file of placeholders) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), 'export const handler = async () => ({ batchItemFailures: [] });\n');
  }
  return { dir, placeholders };
}

async function packageService(): Promise<PackageRun> {
  const { dir, placeholders } = stageService();
  const outDir = join(dir, 'out');
  const home = join(dir, 'home');
  mkdirSync(home);
  const spy = join(dir, 'network-spy.cjs');
  const spyLog = join(dir, 'network.log');
  writeFileSync(spy, NETWORK_SPY);
  writeFileSync(spyLog, '');
  // A clean environment: no AWS credentials, profile or config, nothing inherited from jest.
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    TMPDIR: dir,
    AWS_CONFIG_FILE: join(home, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-aws-credentials'),
    AWS_REGION: 'us-east-1',
    NODE_OPTIONS: `--require ${spy}`,
    NETWORK_SPY_LOG: spyLog,
  };
  const cli = require.resolve('serverless/bin/serverless.js', { paths: [ROOT] });
  const child = spawn(process.execPath, [cli, 'package', '--stage', STAGE, '--region', 'us-east-1', '--package', outDir], { cwd: dir, env });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exitCode = await new Promise<number | null>((done) => child.once('close', done));
  const networkAttempts = readFileSync(spyLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { dir, outDir, output, exitCode, networkAttempts, placeholders };
}

// ---------------------------------------------------------------------------------------------
// cfn-lint (AWS's CloudFormation linter, a Python tool: .ci/run checks it is installed)

interface LintFinding {
  Level: string;
  Message: string;
  Location: { Path: Array<string | number> };
  Rule: { Id: string };
}

/** The checks the committed .cfnlintrc ignores. */
const CFN_LINT_IGNORED = [...readFileSync(join(ROOT, '.cfnlintrc'), 'utf8').matchAll(/^\s+- ([EWI]\d{4})\s*$/gm)].map((m) => m[1]!);

const describeFinding = (finding: LintFinding) => `${finding.Rule.Id} ${finding.Location.Path.join('/')}: ${finding.Message}`;

/** cfn-lint's findings on the templates, with the committed .cfnlintrc and any extra arguments. */
async function cfnLint(templates: string[], extra: string[]): Promise<LintFinding[]> {
  const child = spawn('cfn-lint', ['--config-file', join(ROOT, '.cfnlintrc'), '--format', 'json', ...extra, '--', ...templates], { cwd: ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exitCode = await new Promise<number | null>((done, fail) => {
    child.once('error', (error) => fail(new Error(`cfn-lint could not run (${error.message}); .ci/run checks it is installed`)));
    child.once('close', done);
  });
  // Exit status: a bit per level found (2 error, 4 warning, 8 informational); 1 is cfn-lint's own failure.
  if (exitCode === null || exitCode % 2 === 1) throw new Error(`cfn-lint failed (${String(exitCode)}): ${stderr || stdout}`);
  return JSON.parse(stdout) as LintFinding[];
}

// ---------------------------------------------------------------------------------------------
// Template helpers

const pascal = (phase: string) =>
  phase
    .split('-')
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');

const asList = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

describe('serverless package (offline, no credentials)', () => {
  let run: PackageRun;
  let resources: Record<string, Resource>;

  const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
  const functionNamed = (name: string) => ofType('AWS::Lambda::Function').find(([, r]) => r.Properties.FunctionName === `${SERVICE}-${STAGE}-${name}`);
  // '' for anything that is not a GetAtt (an alarm dimension's literal value).
  const getAttTarget = (value: unknown): string => (value as Partial<GetAtt> | undefined)?.['Fn::GetAtt']?.[0] ?? '';

  beforeAll(async () => {
    run = await packageService();
    if (run.placeholders.length > 0) console.warn(`serverless package used placeholders for missing handlers: ${run.placeholders.join(', ')}`);
    const template = join(run.outDir, 'cloudformation-template-update-stack.json');
    resources = existsSync(template) ? (JSON.parse(readFileSync(template, 'utf8')) as { Resources: Record<string, Resource> }).Resources : {};
  }, 240_000);

  afterAll(() => {
    if (run) rmSync(run.dir, { recursive: true, force: true });
  });

  it('succeeds without reaching the network', () => {
    // Assess
    expect({ exitCode: run.exitCode, output: run.exitCode === 0 ? '' : run.output }).toEqual({ exitCode: 0, output: '' });
    expect(run.networkAttempts).toEqual([]);
  });

  it('deploys what the committed template snapshot says, nothing more or less', () => {
    // Prepare: UPDATE_TEMPLATE_SNAPSHOT=1 rewrites the snapshot (commit it with the change that needs it).
    const snapshotFile = join(__dirname, 'template.snapshot.json');
    const actual = summariseTemplate({ Resources: resources });
    if (process.env.UPDATE_TEMPLATE_SNAPSHOT === '1') writeFileSync(snapshotFile, `${JSON.stringify(actual, null, 2)}\n`);
    // Act
    const expected = JSON.parse(readFileSync(snapshotFile, 'utf8')) as unknown;
    // Assess
    expect(actual).toEqual(expected);
  });

  describe('cfn-lint', () => {
    /**
     * Both runs at once (each spends most of its time loading cfn-lint's specs): the one CI asks to
     * be clean, with the committed .cfnlintrc, and one that reports what .cfnlintrc ignores.
     */
    let withConfig: Promise<LintFinding[]>;
    let ignoredOnly: Promise<LintFinding[]>;
    beforeAll(() => {
      const templates = ['update', 'create'].map((kind) => join(run.outDir, `cloudformation-template-${kind}-stack.json`));
      withConfig = cfnLint(templates, []);
      ignoredOnly = cfnLint(templates, ['--mandatory-checks', ...CFN_LINT_IGNORED]);
      // Neither rejection may go unhandled while the other is awaited.
      withConfig.catch(() => undefined);
      ignoredOnly.catch(() => undefined);
    });

    it('finds no error and no warning in the packaged templates', async () => {
      // Act
      const findings = await withConfig;
      // Assess
      expect(findings.map(describeFinding)).toEqual([]);
    }, 120_000);

    it('ignores only redundant DependsOn the framework generates (a function on its role, a route on its integration)', async () => {
      // Prepare
      const raw = JSON.parse(readFileSync(join(run.outDir, 'cloudformation-template-update-stack.json'), 'utf8')) as {
        Resources: Record<string, Resource & { DependsOn?: string | string[] }>;
      };
      const generated = (finding: LintFinding) => {
        // DependsOn is a list (the path ends with the index) or a single name.
        const [section, id, field, index = 0] = finding.Location.Path;
        const resource = raw.Resources[String(id)];
        const dependency = asList(resource?.DependsOn)[Number(index)];
        if (finding.Rule.Id !== 'W3005' || section !== 'Resources' || field !== 'DependsOn' || !resource || !dependency) return false;
        if (resource.Type === 'AWS::Lambda::Function') return getAttTarget(resource.Properties.Role) === dependency;
        return resource.Type === 'AWS::ApiGatewayV2::Route' && raw.Resources[dependency]?.Type === 'AWS::ApiGatewayV2::Integration';
      };
      // Act
      const findings = (await ignoredOnly).filter((finding) => CFN_LINT_IGNORED.includes(finding.Rule.Id));
      // Assess
      expect(findings.length).toBeGreaterThan(0);
      expect(findings.filter((finding) => !generated(finding)).map(describeFinding)).toEqual([]);
    }, 120_000);
  });

  it('prints nothing but its progress: no configuration warning, no deprecation', () => {
    // Prepare: the two lines a clean `serverless package` prints.
    const progress = [/^Packaging ec2-reset-access for stage test \(us-east-1\)$/, /^✔ Service packaged \(\d+s\)$/];
    // Act
    const other = run.output
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !progress.some((pattern) => pattern.test(line)));
    // Assess
    expect(other).toEqual([]);
  });

  describe.each(PHASES)('phase %s', (phase: PhaseName) => {
    const P = pascal(phase);

    it('has its function, on its own queue with partial batch failures', () => {
      // Prepare
      const [fnId, fn] = functionNamed(phase) ?? [];
      // Act
      const mappings = ofType('AWS::Lambda::EventSourceMapping').filter(([, m]) => (m.Properties.FunctionName as GetAtt)['Fn::GetAtt']?.[0] === fnId);
      // Assess
      expect(fn?.Properties).toEqual(
        expect.objectContaining({
          Handler: 'handlers/phase.handler',
          Runtime: 'nodejs22.x',
          Timeout: 60,
        }),
      );
      const env = (fn!.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env.PHASE_QUEUE_URL).toEqual({ Ref: `${P}Queue` });
      expect(env.PHASE).toBe(phase);
      expect(mappings).toHaveLength(1);
      expect(mappings[0]![1].Properties).toEqual(
        expect.objectContaining({
          EventSourceArn: { 'Fn::GetAtt': [`${P}Queue`, 'Arn'] },
          BatchSize: 10,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
        }),
      );
    });

    it('has its queue, visible again only after 6 × the function timeout, with a DLQ', () => {
      // Prepare
      const queue = resources[`${P}Queue`]!;
      const timeout = functionNamed(phase)![1].Properties.Timeout as number;
      // Act
      const redrive = queue.Properties.RedrivePolicy as { deadLetterTargetArn: GetAtt; maxReceiveCount: number };
      const dlq = resources[getAttTarget(redrive.deadLetterTargetArn)]!;
      // Assess
      expect(queue.Type).toBe('AWS::SQS::Queue');
      expect(queue.Properties.QueueName).toBe(`${SERVICE}-${STAGE}-${phase}`);
      expect(queue.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * timeout);
      expect(redrive.maxReceiveCount).toBe(5);
      expect(dlq.Type).toBe('AWS::SQS::Queue');
      expect(dlq.Properties).toEqual(expect.objectContaining({ QueueName: `${SERVICE}-${STAGE}-${phase}-dlq`, MessageRetentionPeriod: 14 * 24 * 3600 }));
    });

    it('has its rule on the service bus, sending the bare detail to its queue', () => {
      // Prepare
      const rules = ofType('AWS::Events::Rule').filter(([, r]) =>
        (r.Properties.EventPattern as { detail?: { phase?: string[] } } | undefined)?.detail?.phase?.includes(phase),
      );
      // Act
      const [, rule] = rules[0] ?? [];
      const targets = rule?.Properties.Targets as Array<Record<string, unknown>>;
      // Assess
      expect(rules).toHaveLength(1);
      expect(rule!.Properties.EventBusName).toEqual({ Ref: 'EventBus' });
      expect(rule!.Properties.EventPattern).toEqual({ source: [EVENT_SOURCE], 'detail-type': [PHASE_REQUESTED_DETAIL_TYPE], detail: { phase: [phase] } });
      expect(targets).toHaveLength(1);
      expect(targets[0]).toEqual(
        expect.objectContaining({
          Arn: { 'Fn::GetAtt': [`${P}Queue`, 'Arn'] },
          InputPath: '$.detail',
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [expect.any(String), 'Arn'] } },
          RetryPolicy: expect.objectContaining({ MaximumRetryAttempts: expect.any(Number) }),
        }),
      );
    });

    it('lets only its rule send to its queue, and alarms on its DLQ', () => {
      // Prepare
      const [ruleId] = ofType('AWS::Events::Rule').find(
        ([, r]) => (r.Properties.EventPattern as { detail?: { phase?: string[] } } | undefined)?.detail?.phase?.[0] === phase,
      )!;
      // Act
      const policies = ofType('AWS::SQS::QueuePolicy').filter(([, p]) => asList(p.Properties.Queues as Ref[]).some((q) => q.Ref === `${P}Queue`));
      const alarms = ofType('AWS::CloudWatch::Alarm').filter(([, a]) =>
        asList(a.Properties.Dimensions as Array<{ Value: GetAtt }>).some((d) => getAttTarget(d.Value) === `${P}DeadLetterQueue`),
      );
      // Assess
      expect(policies).toHaveLength(1);
      expect((policies[0]![1].Properties.PolicyDocument as PolicyDocument).Statement).toEqual([
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleId, 'Arn'] } } },
        }),
      ]);
      expect(alarms.map(([, a]) => a.Properties)).toEqual([
        expect.objectContaining({
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Namespace: 'AWS/SQS',
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
        }),
      ]);
    });
  });

  it('alarms on every dead-letter queue', () => {
    // Prepare
    const deadLetterIds = new Set(
      ofType('AWS::SQS::Queue').flatMap(([, q]) => [
        ...(q.Properties.RedrivePolicy ? [getAttTarget((q.Properties.RedrivePolicy as { deadLetterTargetArn: unknown }).deadLetterTargetArn)] : []),
      ]),
    );
    for (const [, rule] of ofType('AWS::Events::Rule')) {
      for (const target of rule.Properties.Targets as Array<{ DeadLetterConfig?: { Arn: unknown } }>) {
        if (target.DeadLetterConfig) deadLetterIds.add(getAttTarget(target.DeadLetterConfig.Arn));
      }
    }
    // Act
    const alarmed = new Set(
      ofType('AWS::CloudWatch::Alarm').flatMap(([, a]) => asList(a.Properties.Dimensions as Array<{ Value: unknown }>).map((d) => getAttTarget(d.Value))),
    );
    // Assess
    // One per phase queue, the alarm function's, and the rules' (EventsDeadLetterQueue), at least.
    expect(deadLetterIds.size).toBeGreaterThanOrEqual(PHASES.length + 2);
    expect([...deadLetterIds]).toEqual(expect.arrayContaining(['AlarmDeadLetterQueue', 'EventsDeadLetterQueue']));
    expect([...deadLetterIds].filter((id) => !alarmed.has(id))).toEqual([]);
  });

  it('defines the job table exactly as the job store does', () => {
    // Prepare
    const tables = ofType('AWS::DynamoDB::Table');
    const table = tables[0]![1].Properties;
    const expected = jobTableDefinition(`${SERVICE}-${STAGE}-jobs`);
    const byName = <T extends { AttributeName?: string; IndexName?: string }>(items: T[] | undefined) =>
      [...(items ?? [])].sort((a, b) => String(a.AttributeName ?? a.IndexName).localeCompare(String(b.AttributeName ?? b.IndexName)));
    // Act
    const actual = {
      TableName: table.TableName,
      BillingMode: table.BillingMode,
      KeySchema: table.KeySchema,
      AttributeDefinitions: byName(table.AttributeDefinitions as Array<{ AttributeName: string }>),
      GlobalSecondaryIndexes: byName(table.GlobalSecondaryIndexes as Array<{ IndexName: string }>),
    };
    // Assess
    expect(tables).toHaveLength(1);
    expect(actual).toEqual({
      TableName: expected.TableName,
      BillingMode: expected.BillingMode,
      KeySchema: expected.KeySchema,
      AttributeDefinitions: byName(expected.AttributeDefinitions),
      GlobalSecondaryIndexes: byName(expected.GlobalSecondaryIndexes),
    });
    expect(table.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });

  it('gives every function the service settings, naming resources the template defines', () => {
    // Prepare
    const functions = ofType('AWS::Lambda::Function');
    const table = ofType('AWS::DynamoDB::Table')[0]![1].Properties.TableName;
    const bus = ofType('AWS::Events::EventBus')[0]![1].Properties.Name;
    const profile = ofType('AWS::IAM::InstanceProfile')[0]![1].Properties.InstanceProfileName;
    // Act
    const settings = functions.map(([, f]) => {
      const env = (f.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
      return {
        TABLE_NAME: env.TABLE_NAME,
        EVENT_BUS_NAME: env.EVENT_BUS_NAME,
        HELPER_INSTANCE_PROFILE: env.HELPER_INSTANCE_PROFILE,
        reuse: env.AWS_NODEJS_CONNECTION_REUSE_ENABLED,
      };
    });
    // Assess
    expect(functions.length).toBeGreaterThanOrEqual(PHASES.length + 1);
    expect(bus).toBe(`${SERVICE}-${STAGE}`);
    expect(profile).toMatch(/^reset-access-helper-/);
    for (const setting of settings) expect(setting).toEqual({ TABLE_NAME: table, EVENT_BUS_NAME: bus, HELPER_INSTANCE_PROFILE: profile, reuse: '1' });
  });

  it('serves the API over HTTP with IAM authorisation on every route', () => {
    // Prepare
    const routes = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties);
    const [apiId] = functionNamed('api')!;
    // Act
    const integrations = ofType('AWS::ApiGatewayV2::Integration').map(([, i]) => JSON.stringify(i.Properties.IntegrationUri));
    // Assess
    expect(routes.map((r) => r.RouteKey).sort()).toEqual(API_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    expect(routes.map((r) => r.AuthorizationType)).toEqual(routes.map(() => 'AWS_IAM'));
    expect(integrations).toEqual([expect.stringContaining(apiId!)]);
  });

  it('runs the alarm function on its own queue, which only its three rules fill', () => {
    // Prepare
    const [fnId, fn] = functionNamed('alarm') ?? [];
    const mappings = ofType('AWS::Lambda::EventSourceMapping').filter(([, m]) => (m.Properties.FunctionName as GetAtt)['Fn::GetAtt']?.[0] === fnId);
    const rules = ofType('AWS::Events::Rule').filter(([, r]) =>
      (r.Properties.Targets as Array<{ Arn: unknown }>).some((t) => getAttTarget(t.Arn) === 'AlarmQueue'),
    );
    const policy = ofType('AWS::SQS::QueuePolicy').find(([, p]) => asList(p.Properties.Queues as Ref[]).some((q) => q.Ref === 'AlarmQueue'))?.[1];
    // Act
    const patterns = Object.fromEntries(rules.map(([id, r]) => [id, { bus: r.Properties.EventBusName ?? 'default', pattern: r.Properties.EventPattern }]));
    const senders = (policy?.Properties.PolicyDocument as PolicyDocument).Statement[0]!.Condition!.ArnEquals!['aws:SourceArn'];
    // Assess
    expect(fn?.Properties).toEqual(expect.objectContaining({ Handler: 'handlers/alarm.handler' }));
    expect((fn!.Properties.Environment as { Variables: Record<string, unknown> }).Variables.ALARM_QUEUE_URL).toEqual({ Ref: 'AlarmQueue' });
    expect(mappings.map(([, m]) => m.Properties)).toEqual([
      expect.objectContaining({ EventSourceArn: { 'Fn::GetAtt': ['AlarmQueue', 'Arn'] }, FunctionResponseTypes: ['ReportBatchItemFailures'] }),
    ]);
    expect(resources.AlarmQueue!.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * (fn!.Properties.Timeout as number));
    expect(patterns).toEqual({
      AlarmStateChangeRule: {
        bus: 'default',
        pattern: {
          source: [ALARM_SOURCE],
          'detail-type': [ALARM_STATE_CHANGE_DETAIL_TYPE],
          detail: { state: { value: ['ALARM'] }, configuration: { metrics: { metricStat: { metric: { dimensions: { InstanceId: [{ exists: true }] } } } } } },
        },
      },
      AlarmStateChangeLegacyRule: {
        bus: 'default',
        pattern: {
          source: [ALARM_SOURCE],
          'detail-type': [ALARM_STATE_CHANGE_DETAIL_TYPE],
          detail: { state: { value: ['ALARM'] }, configuration: { dimensions: { InstanceId: [{ exists: true }] } } },
        },
      },
      ResetRequestedRule: { bus: { Ref: 'EventBus' }, pattern: { source: [RESET_REQUESTED_SOURCE], 'detail-type': [RESET_REQUESTED_DETAIL_TYPE] } },
    });
    expect(
      asList(senders as GetAtt[])
        .map(getAttTarget)
        .sort(),
    ).toEqual(Object.keys(patterns).sort());
  });

  it('runs the sweeper every 10 minutes, one run at a time, alarmed on its errors and on what it cannot do', () => {
    // Prepare
    const [fnId, fn] = functionNamed('sweeper') ?? [];
    // Act
    const schedules = ofType('AWS::Events::Rule').filter(([, r]) =>
      (r.Properties.Targets as Array<{ Arn: unknown }>).some((t) => getAttTarget(t.Arn) === fnId),
    );
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties);
    const onSweeper = alarms.filter((a) => JSON.stringify(a.Dimensions).includes(`${SERVICE}-${STAGE}-sweeper`)).map((a) => a.MetricName);
    const onSweeps = alarms.filter((a) => a.Namespace === 'ResetAccess').map((a) => a.MetricName);
    // Assess
    expect(fn?.Properties).toEqual(expect.objectContaining({ Handler: 'handlers/sweeper.handler', Timeout: 300, ReservedConcurrentExecutions: 1 }));
    expect(getAttTarget(fn!.Properties.Role)).toBe('SweeperRole');
    expect(schedules.map(([, r]) => r.Properties.ScheduleExpression)).toEqual(['rate(10 minutes)']);
    expect(onSweeper).toEqual(['Errors']);
    expect(onSweeps).toEqual(expect.arrayContaining(['SweepHelpersHeld', 'SweepDeferred']));
  });

  it('alarms on failed jobs, from the metric the service emits', () => {
    // Act
    const alarms = ofType('AWS::CloudWatch::Alarm').filter(([, a]) => a.Properties.MetricName === METRIC.failed);
    // Assess
    expect(alarms.map(([, a]) => a.Properties)).toEqual([
      expect.objectContaining({
        Namespace: METRICS_NAMESPACE,
        Dimensions: [{ Name: 'service', Value: `${SERVICE}-${STAGE}` }],
        Statistic: 'Sum',
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      }),
    ]);
  });

  describe("the operators' dashboard", () => {
    interface MetricWidget {
      type: string;
      properties: { title?: string; stat?: string; region?: string; metrics?: unknown[][] };
    }
    /** Every metric line of the dashboard, with its widget's title and statistic. */
    const dashboard = () => {
      const found = ofType('AWS::CloudWatch::Dashboard');
      const body = (found[0]?.[1].Properties.DashboardBody as { 'Fn::Sub'?: string } | undefined)?.['Fn::Sub'] ?? '{"widgets":[]}';
      const widgets = (JSON.parse(body) as { widgets: MetricWidget[] }).widgets.filter((w) => w.type === 'metric');
      const lines = widgets.flatMap((widget) =>
        (widget.properties.metrics ?? []).map((line) => {
          const [namespace, name, ...rest] = line.filter((part) => typeof part === 'string') as string[];
          const dimensions: Record<string, string> = {};
          for (let i = 0; i + 1 < rest.length; i += 2) dimensions[rest[i]!] = rest[i + 1]!;
          return { widget: widget.properties.title ?? '', stat: widget.properties.stat, namespace: namespace!, name: name!, dimensions };
        }),
      );
      return { found, body, widgets, lines };
    };

    it("is in the template, for this deployment, in the stack's region", () => {
      // Act
      const { found, body, widgets } = dashboard();
      // Assess
      expect(found.map(([, d]) => d.Properties.DashboardName)).toEqual([`${SERVICE}-${STAGE}`]);
      expect([...new Set(body.match(/\$\{[^}]*\}/g))]).toEqual(['${AWS::Region}']);
      expect(widgets.map((w) => w.properties.region)).toEqual(widgets.map(() => '${AWS::Region}'));
    });

    it("draws only metrics that exist: the service's own EMF metrics, and the template's queues and functions", () => {
      // Prepare
      const emitted = new Set<string>([...Object.values(METRIC), ...Object.values(SWEEP_METRIC)]);
      const queueNames = new Set(ofType('AWS::SQS::Queue').map(([, q]) => q.Properties.QueueName as string));
      const functionNames = new Set(ofType('AWS::Lambda::Function').map(([, f]) => f.Properties.FunctionName as string));
      // Act
      const unknown = dashboard().lines.filter(({ namespace, name, dimensions }) => {
        if (namespace === METRICS_NAMESPACE)
          return (
            !emitted.has(name) ||
            dimensions.service !== `${SERVICE}-${STAGE}` ||
            (dimensions.phase !== undefined && !PHASES.includes(dimensions.phase as PhaseName))
          );
        if (namespace === 'AWS/SQS') return !queueNames.has(dimensions.QueueName!);
        if (namespace === 'AWS/Lambda') return !functionNames.has(dimensions.FunctionName!);
        return true;
      });
      // Assess
      expect(dashboard().lines.length).toBeGreaterThan(0);
      expect(unknown).toEqual([]);
    });

    it("shows the jobs, each phase's duration p50/p95 and queue depth and age, every DLQ, the sweeper and the helpers", () => {
      // Prepare
      const { lines } = dashboard();
      const drawn = (namespace: string, name: string, stat?: string) =>
        lines.filter((l) => l.namespace === namespace && l.name === name && (stat === undefined || l.stat === stat));
      const queueOf = (id: string) => resources[id]!.Properties.QueueName as string;
      const deadLetters = ofType('AWS::SQS::Queue')
        .filter(([id]) => id.endsWith('DeadLetterQueue'))
        .map(([, q]) => q.Properties.QueueName as string);
      // Act
      const visible = drawn('AWS/SQS', 'ApproximateNumberOfMessagesVisible').map((l) => l.dimensions.QueueName);
      const aged = drawn('AWS/SQS', 'ApproximateAgeOfOldestMessage').map((l) => l.dimensions.QueueName);
      // Assess
      for (const metric of [METRIC.started, METRIC.succeeded, METRIC.failed, METRIC.rolledBack])
        expect(drawn(METRICS_NAMESPACE, metric, 'Sum')).toHaveLength(1);
      for (const stat of ['p50', 'p95']) expect(drawn(METRICS_NAMESPACE, METRIC.phaseDuration, stat).map((l) => l.dimensions.phase)).toEqual([...PHASES]);
      expect(visible).toEqual(expect.arrayContaining(PHASES.map((phase) => queueOf(`${pascal(phase)}Queue`))));
      expect(aged).toEqual(expect.arrayContaining(PHASES.map((phase) => queueOf(`${pascal(phase)}Queue`))));
      expect(deadLetters.length).toBeGreaterThanOrEqual(PHASES.length + 3);
      expect(visible).toEqual(expect.arrayContaining(deadLetters));
      expect(drawn(METRICS_NAMESPACE, SWEEP_METRIC.deleted, 'Sum')).toHaveLength(1);
      expect(drawn(METRICS_NAMESPACE, SWEEP_METRIC.helpersRunning, 'Maximum')).toHaveLength(1);
    });
  });

  it('expires idempotency keys and cool-downs through the table TTL', () => {
    // Act
    const table = ofType('AWS::DynamoDB::Table')[0]![1].Properties;
    // Assess
    expect(table.TimeToLiveSpecification).toEqual({ AttributeName: JOB_TABLE_TTL_ATTRIBUTE, Enabled: true });
  });

  it('gives every function a role of its own', () => {
    // Prepare
    const functions = ofType('AWS::Lambda::Function');
    // Act
    const roles = functions.map(([, f]) => getAttTarget(f.Properties.Role));
    // Assess
    expect(new Set(roles).size).toBe(functions.length);
    for (const role of roles) expect(resources[role]?.Type).toBe('AWS::IAM::Role');
    expect(resources.IamRoleLambdaExecution).toBeUndefined();
  });

  describe('IAM', () => {
    /** Every Allow statement a role has, inline or through a managed policy of the template. */
    const statementsOf = (roleId: string): Statement[] => {
      const role = resources[roleId]!.Properties;
      const inline = asList(role.Policies as Array<{ PolicyDocument: PolicyDocument }>).flatMap((p) => p.PolicyDocument.Statement);
      const managed = asList(role.ManagedPolicyArns as unknown[])
        .filter((arn): arn is Ref => typeof arn === 'object' && arn !== null && 'Ref' in arn)
        .flatMap((arn) => (resources[arn.Ref]!.Properties.PolicyDocument as PolicyDocument).Statement);
      return [...inline, ...managed].filter((s) => s.Effect === 'Allow');
    };
    const lambdaRoles = () =>
      ofType('AWS::IAM::Role')
        .filter(([, r]) => JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('lambda.amazonaws.com'))
        .map(([id]) => id);
    const allStatements = () => ofType('AWS::IAM::Role').flatMap(([id]) => statementsOf(id).map((statement) => ({ role: id, statement })));
    const managedTagCondition = (s: Statement) =>
      s.Condition?.StringEquals?.['aws:ResourceTag/reset-access:managed'] ?? s.Condition?.StringEquals?.['ec2:ResourceTag/reset-access:managed'];

    it('grants no wildcard action', () => {
      // Act
      const wildcards = allStatements().filter(({ statement }) => asList(statement.Action).some((action) => action === '*' || action.endsWith(':*')));
      // Assess
      expect(wildcards).toEqual([]);
    });

    it('limits every destructive EC2 action to resources tagged reset-access:managed=true', () => {
      // Prepare
      const destructive = /^ec2:(Terminate|Delete|Detach(InternetGateway|NetworkInterface)|Disassociate|Revoke)/;
      // Act
      const statements = allStatements().filter(({ statement }) => asList(statement.Action).some((action) => destructive.test(action)));
      const unguarded = statements.filter(({ statement }) => managedTagCondition(statement) !== 'true' || statement.Resource === '*');
      // Assess
      expect(statements.length).toBeGreaterThan(0);
      expect(unguarded).toEqual([]);
    });

    it('creates helpers, images and rescue VPCs only tagged, and tags only at creation', () => {
      // Prepare: the creating action and the type of what it creates.
      const creates: Record<string, string> = {
        'ec2:RunInstances': 'instance',
        'ec2:CreateImage': 'image',
        'ec2:CreateVpc': 'vpc',
        'ec2:CreateInternetGateway': 'internet-gateway',
      };
      // Act
      const untaggedCreates = allStatements().filter(
        ({ statement }) =>
          asList(statement.Action).some((action) => creates[action] && JSON.stringify(statement.Resource).includes(`:${creates[action]}/`)) &&
          statement.Condition?.StringEquals?.['aws:RequestTag/reset-access:managed'] !== 'true',
      );
      const creating = allStatements().filter(({ statement }) => asList(statement.Action).some((action) => creates[action]));
      const freeTagging = allStatements().filter(
        ({ statement }) => asList(statement.Action).includes('ec2:CreateTags') && !statement.Condition?.StringEquals?.['ec2:CreateAction'],
      );
      // Assess
      expect(creating.length).toBeGreaterThan(0);
      expect(untaggedCreates).toEqual([]);
      expect(freeTagging).toEqual([]);
    });

    /** Actions on a customer's instance or its volumes, whichever role has them. */
    const TARGET_ACTIONS = [
      'ec2:StopInstances',
      'ec2:StartInstances',
      'ec2:RebootInstances',
      'ec2:TerminateInstances',
      'ec2:ModifyInstanceAttribute',
      'ec2:AttachVolume',
      'ec2:DetachVolume',
      'ec2:CreateImage',
      'ec2:GetPasswordData',
      'ssm:SendCommand',
    ];
    const DEPLOYMENT = `${SERVICE}-${STAGE}`;
    const arnOf = (resource: unknown) => JSON.stringify(resource);
    /** What keeps a statement to an opted-in target, or to this deployment's own helpers. */
    const guardOf = (s: Statement): 'opted-in' | 'our-helper' | undefined => {
      const c = s.Condition ?? {};
      if (
        c.StringEqualsIgnoreCase?.['aws:ResourceTag/reset-access:allowed'] === 'true' ||
        c.StringEqualsIgnoreCase?.['ssm:resourceTag/reset-access:allowed'] === 'true'
      )
        return 'opted-in';
      const tags = c.StringEquals ?? {};
      const ours = (prefix: string) => tags[`${prefix}/reset-access:managed`] === 'true' && tags[`${prefix}/reset-access:deployment`] === DEPLOYMENT;
      if (
        ours('aws:ResourceTag') &&
        JSON.stringify(c.ArnEquals?.['ec2:InstanceProfile']) === JSON.stringify({ 'Fn::GetAtt': ['HelperInstanceProfile', 'Arn'] })
      )
        return 'our-helper';
      // Run Command names no instance profile key: the helper's tags in SSM's own key.
      if (s.Action === 'ssm:SendCommand' || asList(s.Action).includes('ssm:SendCommand')) return ours('ssm:resourceTag') ? 'our-helper' : undefined;
      return undefined;
    };

    it("conditions every action on a customer's instance on its opt-in tag, role by role, and lists what IAM cannot narrow", () => {
      // Prepare: every statement that names a target-side action, per role
      const found = allStatements().flatMap(({ role, statement }) =>
        asList(statement.Action)
          .filter((action) => TARGET_ACTIONS.includes(action))
          .flatMap((action) => asList(statement.Resource).map((resource) => ({ role, action, resource: arnOf(resource), guard: guardOf(statement) }))),
      );
      // Act
      const onAnything = found.filter((f) => f.resource === '"*"');
      const instances = found.filter((f) => f.resource.includes(':instance/'));
      const volumes = found.filter((f) => f.resource.includes(':volume/'));
      const unguardedInstances = instances.filter((f) => f.guard === undefined);
      const unlistedVolumes = volumes.filter(
        (f) => f.guard === undefined && !UNNARROWED_TARGET_ACTIONS.some((u) => u.action === f.action && u.resource === 'volume'),
      );
      // Assess
      expect(instances.length).toBeGreaterThan(10);
      expect(onAnything).toEqual([]);
      expect(unguardedInstances).toEqual([]);
      expect(unlistedVolumes).toEqual([]);
      for (const listed of UNNARROWED_TARGET_ACTIONS) expect(listed.reason).toMatch(/docs\/aws-facts\.md#/);
      // The roles that touch a customer's instance at all, each conditioned on its opt-in tag.
      expect([...new Set(instances.filter((f) => f.guard === 'opted-in').map((f) => f.role))].sort()).toEqual(
        [
          'CreateBackupRole',
          'CreatePasswordImageRole',
          'DetachRootRole',
          'AttachToHelperRole',
          'DetachFromHelperRole',
          'ReattachRootRole',
          'RestoreTargetRole',
          'RollbackRole',
          'StopTargetRole',
          'OnlineResetRole',
          'SweeperRole',
        ].sort(),
      );
    });

    it("keeps stopping, starting, terminating and running commands on helpers to this deployment's helpers", () => {
      // Act
      const helperSide = allStatements().filter(
        ({ statement }) =>
          asList(statement.Action).some((a) => ['ec2:TerminateInstances', 'ec2:StopInstances', 'ec2:StartInstances', 'ssm:SendCommand'].includes(a)) &&
          guardOf(statement) === 'our-helper',
      );
      const terminating = allStatements().filter(({ statement }) => asList(statement.Action).includes('ec2:TerminateInstances'));
      // Assess
      expect([...new Set(helperSide.map(({ role }) => role))].sort()).toEqual([
        'AttachToHelperRole',
        'CleanupRole',
        'RollbackRole',
        'RunRescueRole',
        'SweeperRole',
        'WindowsFallbackRole',
      ]);
      for (const { statement } of terminating) expect(guardOf(statement)).toBe('our-helper');
    });

    it('grants no role ssm:GetParameter* on every parameter', () => {
      // Act
      const reads = allStatements().filter(({ statement }) => asList(statement.Action).some((a) => /^ssm:(GetParameter|\*|Get\*)/.test(a)));
      const everywhere = reads.filter(({ statement }) =>
        asList(statement.Resource).some((r) => r === '*' || /:parameter\/\*"?$/.test(JSON.stringify(r).replace(/"}$/, '"'))),
      );
      // An AWS managed policy's grants are not in the template: no role may hide any there.
      const awsManaged = ofType('AWS::IAM::Role').filter(([, r]) =>
        asList(r.Properties.ManagedPolicyArns as unknown[]).some((arn) => !(typeof arn === 'object' && arn !== null && 'Ref' in arn)),
      );
      // Assess
      expect(reads.length).toBeGreaterThan(0);
      expect(everywhere).toEqual([]);
      expect(awsManaged.map(([id]) => id)).toEqual([]);
    });

    it('drops the opt-in condition only where the deployment turned the opt-in off, and nothing else', () => {
      // Prepare: the same templates rendered in process (serverless.yml's parameter requireAllowedTag)
      const render = (requireAllowedTag: boolean) =>
        Object.entries(resourcesOf({ service: SERVICE, stage: STAGE, requireAllowedTag })).flatMap(([id, r]) =>
          r.Type === 'AWS::IAM::Role'
            ? (r.Properties.Policies as unknown as Array<{ PolicyDocument: PolicyDocument }>).flatMap((p) =>
                p.PolicyDocument.Statement.map((st) => ({ id, st })),
              )
            : [],
        );
      // Act
      const on = render(true);
      const off = render(false);
      const optInConditions = (list: typeof on) => list.filter(({ st }) => guardOf(st) === 'opted-in').length;
      const withoutOptIn = (list: typeof on) =>
        list.map(({ id, st }) => JSON.stringify({ id, st: { ...st, Condition: guardOf(st) === 'opted-in' ? undefined : st.Condition } }));
      // Assess
      expect(optInConditions(on)).toBeGreaterThan(10);
      expect(optInConditions(off)).toBe(0);
      expect(withoutOptIn(off)).toEqual(withoutOptIn(on));
      expect(JSON.stringify(resources)).toContain('"RESET_ACCESS_REQUIRE_ALLOWED_TAG":"true"');
    });

    it('keeps the online-reset role from decrypting any stored key, which the aws/ssm key would let it', () => {
      // Act
      const statements = asList(resources.OnlineResetRole!.Properties.Policies as Array<{ PolicyDocument: PolicyDocument }>).flatMap(
        (p) => p.PolicyDocument.Statement,
      );
      const denies = statements.filter((s) => s.Effect === 'Deny');
      // Assess
      expect(denies).toEqual([expect.objectContaining({ Action: ['kms:Decrypt'], Resource: '*' })]);
    });

    it('passes only the helper role, only to EC2', () => {
      // Act
      const passRole = allStatements().filter(({ statement }) => asList(statement.Action).includes('iam:PassRole'));
      // Assess
      expect(passRole.length).toBeGreaterThan(0);
      for (const { statement } of passRole) {
        expect(asList(statement.Resource)).toEqual([{ 'Fn::GetAtt': ['HelperRole', 'Arn'] }]);
        expect(statement.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } });
      }
    });

    it('uses customer KMS keys only through EC2 (the online reset: also to encrypt its key parameter through Parameter Store), and grants only for AWS resources', () => {
      // Act
      const kms = allStatements().filter(({ role, statement }) => role !== 'HelperRole' && asList(statement.Action).some((a) => a.startsWith('kms:')));
      const viaSsm = kms.filter(
        ({ statement }) =>
          JSON.stringify(statement.Condition?.StringEquals?.['kms:ViaService']) === JSON.stringify({ 'Fn::Sub': 'ssm.${AWS::Region}.amazonaws.com' }),
      );
      // Assess
      expect(kms.length).toBeGreaterThan(0);
      expect(viaSsm.map(({ role, statement }) => [role, asList(statement.Action)])).toEqual([['OnlineResetRole', ['kms:Encrypt', 'kms:GenerateDataKey']]]);
      for (const { statement } of kms.filter((k) => !viaSsm.includes(k))) {
        expect(statement.Condition?.StringEquals?.['kms:ViaService']).toEqual({ 'Fn::Sub': 'ec2.${AWS::Region}.amazonaws.com' });
        if (asList(statement.Action).includes('kms:CreateGrant')) expect(statement.Condition?.Bool).toEqual({ 'kms:GrantIsForAWSResource': 'true' });
      }
    });

    it('lets only the online-reset role reboot an instance or read its password data, and run only the two script documents', () => {
      // Act
      const rebooting = allStatements().filter(({ statement }) =>
        asList(statement.Action).some((a) => a === 'ec2:RebootInstances' || a === 'ec2:GetPasswordData'),
      );
      const sending = statementsOf('OnlineResetRole').filter((s) => asList(s.Action).includes('ssm:SendCommand'));
      // Assess
      expect(rebooting.map(({ role }) => role)).toEqual(['OnlineResetRole']);
      expect(asList(rebooting[0]!.statement.Resource)).toEqual([{ 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*' }]);
      const documents = sending
        .flatMap((s) => asList(s.Resource))
        .map((r) => JSON.stringify(r))
        .filter((r) => r.includes(':document/'));
      expect(documents.map((d) => /document\/([A-Za-z-]+)/.exec(d)![1]).sort()).toEqual(['AWS-RunPowerShellScript', 'AWS-RunShellScript']);
    });

    it('gives the helper no managed policy, only what the SSM agent and the key write need: no parameter read', () => {
      // Prepare
      const helper = statementsOf('HelperRole');
      // Act
      const actions = helper.flatMap((s) => asList(s.Action)).sort();
      const putParameter = helper.filter((s) => asList(s.Action).some((a) => a.startsWith('ssm:') && a !== 'ssm:UpdateInstanceInformation'));
      // Assess
      expect(resources.HelperRole!.Properties.ManagedPolicyArns).toBeUndefined();
      expect(actions).toEqual(
        [
          'ec2messages:AcknowledgeMessage',
          'ec2messages:DeleteMessage',
          'ec2messages:FailMessage',
          'ec2messages:GetEndpoint',
          'ec2messages:GetMessages',
          'ec2messages:SendReply',
          'kms:Encrypt',
          'kms:GenerateDataKey',
          'ssm:PutParameter',
          'ssm:UpdateInstanceInformation',
          'ssmmessages:CreateControlChannel',
          'ssmmessages:CreateDataChannel',
          'ssmmessages:OpenControlChannel',
          'ssmmessages:OpenDataChannel',
        ].sort(),
      );
      expect(putParameter).toEqual([
        expect.objectContaining({ Action: 'ssm:PutParameter', Resource: { 'Fn::Sub': expect.stringMatching(/:parameter\/ec2rl\/openssh\/i-\*\/key$/) } }),
      ]);
    });

    it('lets each Lambda role write only its own function log group', () => {
      // Act
      const logs = lambdaRoles().map((role) => ({
        role,
        resources: statementsOf(role)
          .filter((s) => asList(s.Action).some((a) => a.startsWith('logs:')))
          .map((s) => JSON.stringify(s.Resource)),
      }));
      // Assess
      for (const { resources: logResources } of logs)
        expect(logResources).toEqual([expect.stringMatching(new RegExp(`/aws/lambda/${SERVICE}-${STAGE}-[a-z-]+:\\*`))]);
    });
  });

  it('builds each function into a zip under 1 MB holding its handler', () => {
    // Prepare
    const functions = ofType('AWS::Lambda::Function').map(([, f]) => f.Properties);
    // Act
    const zips = functions.map((f) => {
      const key = (f.Code as { S3Key: string }).S3Key;
      const file = join(run.outDir, key.slice(key.lastIndexOf('/') + 1));
      const handlerJs = `${String(f.Handler).replace(/\.handler$/, '')}.js`;
      const bytes = existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
      return { file: relative(run.outDir, file), size: bytes.length, holdsHandler: bytes.includes(Buffer.from(handlerJs)) };
    });
    // Assess
    expect(zips.length).toBeGreaterThanOrEqual(PHASES.length + 1);
    for (const zip of zips) {
      expect(zip).toEqual({ file: zip.file, size: expect.any(Number), holdsHandler: true });
      expect(zip.size).toBeGreaterThan(0);
      expect(zip.size).toBeLessThan(ONE_MB);
    }
  });
});
