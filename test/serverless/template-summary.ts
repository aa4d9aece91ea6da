/**
 * What a packaged CloudFormation template deploys, in a form that changes only when the deployment
 * does: every resource by logical id and type, each function's settings and event sources, each
 * queue, rule and alarm, the API routes, and each role's grants flattened to one line per action ×
 * resource × condition (statement ids, ordering and the policy a grant sits in do not matter, so a
 * refactor that moves statements around keeps the summary; a role that gains an action or loses a
 * condition changes it). test/serverless/package.test.ts compares the summary of `serverless
 * package`'s template with the committed `template.snapshot.json`.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Resource {
  Type: string;
  Properties?: Record<string, unknown>;
}
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource?: Json;
  NotResource?: Json;
  Condition?: Json;
}

export interface TemplateSummary {
  resources: Record<string, string>;
  functions: Record<string, Json>;
  queues: Record<string, Json>;
  queuePolicies: Record<string, Json>;
  rules: Record<string, Json>;
  alarms: Record<string, Json>;
  routes: string[];
  roles: Record<string, { managed: string[]; grants: string[] }>;
  other: Record<string, Json>;
}

const asList = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** Stable JSON text: object keys sorted at every level. */
export function stable(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stable).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${stable((value as Record<string, unknown>)[key])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** Sorts a JSON value's object keys (for a readable, stable snapshot file). */
function sorted(value: unknown): Json {
  return JSON.parse(stable(value)) as Json;
}

/** A Lambda version's logical id carries a hash of the code: keep only what it versions. */
function logicalKey(id: string, resource: Resource): string {
  return resource.Type === 'AWS::Lambda::Version' ? id.replace(/LambdaVersion\w+$/, 'LambdaVersion') : id;
}

function grantsOf(statements: Statement[]): string[] {
  const lines = new Set<string>();
  for (const statement of statements) {
    const condition = statement.Condition === undefined ? '' : ` if ${stable(statement.Condition)}`;
    const resources =
      statement.NotResource !== undefined ? asList(statement.NotResource).map((r) => `NOT ${stable(r)}`) : asList(statement.Resource).map(stable);
    for (const action of asList(statement.Action)) {
      for (const resource of resources) lines.add(`${statement.Effect} ${action} on ${resource}${condition}`);
    }
  }
  return [...lines].sort();
}

/** A dashboard's widgets by title: each metric as `namespace name dimension=value… {how it is drawn}`. */
function dashboardWidgets(body: unknown): Json {
  const text = typeof body === 'string' ? body : (body as { 'Fn::Sub'?: unknown } | undefined)?.['Fn::Sub'];
  if (typeof text !== 'string') return stable(body);
  const parsed = JSON.parse(text) as {
    widgets: Array<{ type: string; properties: { title?: string; markdown?: string; stat?: string; period?: number; metrics?: Json[][] } }>;
  };
  return parsed.widgets.map((widget) => {
    if (widget.type !== 'metric') return { [widget.type]: widget.properties.markdown ?? stable(widget.properties) };
    const { title = '', stat, period, metrics = [] } = widget.properties;
    const lines = metrics.map((line) => {
      const options = line.find((part) => typeof part === 'object');
      const [namespace, name, ...dimensions] = line.filter((part) => typeof part !== 'object');
      const pairs = [];
      for (let i = 0; i + 1 < dimensions.length; i += 2) pairs.push(`${String(dimensions[i])}=${String(dimensions[i + 1])}`);
      return [namespace, name, ...pairs, ...(options ? [stable(options)] : [])].join(' ');
    });
    return { [`${title} (${String(stat)}, ${String(period)} s)`]: lines };
  });
}

export function summariseTemplate(template: { Resources: Record<string, Resource> }): TemplateSummary {
  const summary: TemplateSummary = { resources: {}, functions: {}, queues: {}, queuePolicies: {}, rules: {}, alarms: {}, routes: [], roles: {}, other: {} };
  const resources = template.Resources;
  const policyStatements = (id: string): Statement[] =>
    asList((resources[id]?.Properties?.PolicyDocument as { Statement?: Statement[] } | undefined)?.Statement);
  for (const [id, resource] of Object.entries(resources)) {
    const key = logicalKey(id, resource);
    summary.resources[key] = resource.Type;
    const p = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::Lambda::Function': {
        const { Code: _code, ...rest } = p;
        summary.functions[key] = sorted(rest);
        break;
      }
      case 'AWS::Lambda::EventSourceMapping':
      case 'AWS::Lambda::Permission':
      case 'AWS::Logs::LogGroup':
      case 'AWS::DynamoDB::Table':
      case 'AWS::Events::EventBus':
      case 'AWS::IAM::InstanceProfile':
      case 'AWS::ApiGatewayV2::Api':
      case 'AWS::ApiGatewayV2::Stage':
      case 'AWS::ApiGatewayV2::Integration':
        summary.other[key] = sorted(p);
        break;
      case 'AWS::Lambda::Version':
        // Its properties hash the code.
        summary.other[key] = sorted({ FunctionName: p.FunctionName ?? null });
        break;
      case 'AWS::SQS::Queue':
        summary.queues[key] = sorted(p);
        break;
      case 'AWS::SQS::QueuePolicy':
        summary.queuePolicies[key] = sorted(p);
        break;
      case 'AWS::Events::Rule':
        summary.rules[key] = sorted(p);
        break;
      case 'AWS::CloudWatch::Alarm':
        summary.alarms[key] = sorted(p);
        break;
      case 'AWS::ApiGatewayV2::Route':
        summary.routes.push(`${String(p.RouteKey)} ${String(p.AuthorizationType)} → ${stable(p.Target)}`);
        break;
      case 'AWS::IAM::Role': {
        const inline = asList(p.Policies as Array<{ PolicyDocument: { Statement: Statement[] } }> | undefined).flatMap(
          (policy) => policy.PolicyDocument.Statement,
        );
        const refs = asList(p.ManagedPolicyArns as Json[] | undefined);
        const ownManaged = refs.filter(
          (arn): arn is { Ref: string } => typeof arn === 'object' && arn !== null && !Array.isArray(arn) && typeof arn.Ref === 'string',
        );
        const awsManaged = refs.filter((arn) => !ownManaged.includes(arn as { Ref: string })).map(stable);
        const trust = grantsOf(asList((p.AssumeRolePolicyDocument as { Statement?: Statement[] } | undefined)?.Statement)).map((g) => `trust: ${g}`);
        summary.roles[key] = {
          managed: awsManaged.sort(),
          grants: [...grantsOf([...inline, ...ownManaged.flatMap((ref) => policyStatements(ref.Ref))]), ...trust].sort(),
        };
        const { Policies: _p, ManagedPolicyArns: _m, AssumeRolePolicyDocument: _a, ...rest } = p;
        if (Object.keys(rest).length > 0) summary.other[key] = sorted(rest);
        break;
      }
      case 'AWS::CloudWatch::Dashboard':
        // Its body is one JSON string: one line per metric under its widget's title, to read in a diff.
        summary.other[key] = sorted({ DashboardName: p.DashboardName ?? null, widgets: dashboardWidgets(p.DashboardBody) });
        break;
      case 'AWS::IAM::ManagedPolicy':
        // Folded into the roles that attach it; its own description only here.
        summary.other[key] = sorted({ Description: p.Description ?? null });
        break;
      default:
        summary.other[key] = sorted(p);
    }
  }
  summary.routes.sort();
  return sorted(summary) as unknown as TemplateSummary;
}
