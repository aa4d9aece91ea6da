/**
 * The simulated SSM service's Parameter Store (String and SecureString parameters with SSM's name
 * rules and versions, a SecureString read without decryption shown as ciphertext, the read-only
 * public `/aws/service/…` parameters of AMI ids), and what every SSM action of the region shares:
 * paging by NextToken and `ValidationException`. Run Command and the managed instances it runs
 * on: `ssm-run-command.ts`.
 */
import type {
  DeleteParameterRequest,
  DeleteParameterResult,
  DeleteParametersRequest,
  DeleteParametersResult,
  GetParameterRequest,
  GetParameterResult,
  GetParametersByPathRequest,
  GetParametersByPathResult,
  GetParametersRequest,
  GetParametersResult,
  Parameter,
  PutParameterRequest,
  PutParameterResult,
} from '@aws-sdk/client-ssm';
import { createHash } from 'node:crypto';

import type { RegionContext } from './context';
import { fail } from './sim-error';
import type { ParameterRecord, TagMap } from './state';

export function validation(message: string): never {
  return fail('ValidationException', message);
}

export function page<T>(items: T[], maxResults: number | undefined, nextToken: string | undefined, limit: number): { items: T[]; next?: string } {
  const start = nextToken ? Number(Buffer.from(nextToken, 'base64').toString('utf8')) : 0;
  if (!Number.isInteger(start) || start < 0) fail('InvalidNextToken', 'The specified token is not valid.');
  const size = Math.min(maxResults ?? limit, limit);
  const end = start + size;
  return { items: items.slice(start, end), next: end < items.length ? Buffer.from(String(end)).toString('base64') : undefined };
}

// ---- Parameter Store ----

const NAME_CHARS = /^[a-zA-Z0-9_.\-/]+$/;

function parameterArn(ctx: RegionContext, record: ParameterRecord): string {
  const account = record.public ? '' : ctx.config.accountId;
  return `arn:aws:ssm:${ctx.config.regionName}:${account}:parameter/${record.name.replace(/^\//, '')}`;
}

/** What GetParameter shows for a SecureString read without decryption: an opaque ciphertext. */
function ciphertextOf(record: ParameterRecord): string {
  const digest = createHash('sha256')
    .update(`${record.keyId ?? 'alias/aws/ssm'}:${record.version}:${record.value}`)
    .digest();
  return Buffer.concat([Buffer.from([1, 2, 2, 0, 120]), digest, digest]).toString('base64');
}

function parameterShape(ctx: RegionContext, record: ParameterRecord, withDecryption: boolean | undefined): Parameter {
  return {
    Name: record.name,
    Type: record.type,
    Value: record.type === 'SecureString' && !withDecryption ? ciphertextOf(record) : record.value,
    Version: record.version,
    LastModifiedDate: new Date(record.lastModified),
    ARN: parameterArn(ctx, record),
    DataType: record.dataType,
  };
}

function validateName(name: string): void {
  if (!name || name.length > 1011 || !NAME_CHARS.test(name)) {
    validation(`Parameter name: "${name}" is not valid. Names can contain a-zA-Z0-9_.-/ and be at most 1011 characters.`);
  }
  if (name.includes('/') && !name.startsWith('/')) validation('Parameter name must be a fully qualified name.');
  if (name.split('/').filter(Boolean).length > 15) validation('A parameter name can have a maximum of 15 hierarchy levels.');
  const first = name.replace(/^\//, '').toLowerCase();
  if (first.startsWith('aws') || first.startsWith('ssm')) {
    validation('Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).');
  }
}

export function storeParameter(ctx: RegionContext, input: PutParameterRequest): PutParameterResult {
  const name = input.Name ?? validation('Name is required.');
  validateName(name);
  const value = input.Value ?? '';
  if (!value) validation('Value must not be empty.');
  if (value.length > 4096) validation('Standard tier parameters support a maximum parameter value of 4096 characters.');
  const existing = ctx.state.parameters[name];
  if (existing && !input.Overwrite) {
    fail('ParameterAlreadyExists', 'The parameter already exists. To overwrite this value, set the overwrite option in the request to true.');
  }
  if (existing && input.Tags?.length)
    validation(
      "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.",
    );
  const type = input.Type ?? existing?.type ?? validation('Parameter Type is required for a new parameter.');
  const tags: TagMap = existing?.tags ?? Object.fromEntries((input.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
  const record: ParameterRecord = {
    name,
    type,
    value,
    version: (existing?.version ?? 0) + 1,
    lastModified: ctx.now(),
    keyId: type === 'SecureString' ? (input.KeyId ?? 'alias/aws/ssm') : undefined,
    description: input.Description ?? existing?.description,
    dataType: input.DataType ?? 'text',
    tags,
    public: false,
  };
  ctx.state.parameters[name] = record;
  return { Version: record.version, Tier: 'Standard' };
}

export function putParameter(ctx: RegionContext, input: PutParameterRequest): PutParameterResult {
  return storeParameter(ctx, input);
}

function findParameter(ctx: RegionContext, selector: string): ParameterRecord | undefined {
  const [name, version] = selector.split(':');
  const record = ctx.state.parameters[name];
  if (!record) return undefined;
  if (version !== undefined && Number(version) !== record.version) {
    fail('ParameterVersionNotFound', `Systems Manager could not find version ${version} of ${name}.`);
  }
  return record;
}

export function getParameter(ctx: RegionContext, input: GetParameterRequest): GetParameterResult {
  const record = findParameter(ctx, input.Name ?? '') ?? fail('ParameterNotFound', '');
  return { Parameter: parameterShape(ctx, record, input.WithDecryption) };
}

export function getParameters(ctx: RegionContext, input: GetParametersRequest): GetParametersResult {
  const names = input.Names ?? [];
  if (names.length > 10) validation('Member must have length less than or equal to 10');
  const found = names.map((n) => ({ n, record: findParameter(ctx, n) }));
  return {
    Parameters: found.filter((f) => f.record).map((f) => parameterShape(ctx, f.record!, input.WithDecryption)),
    InvalidParameters: found.filter((f) => !f.record).map((f) => f.n),
  };
}

export function getParametersByPath(ctx: RegionContext, input: GetParametersByPathRequest): GetParametersByPathResult {
  const path = input.Path ?? '';
  if (!path.startsWith('/')) validation('The parameter doesn\'t meet the parameter name requirements. The parameter name must begin with a forward slash "/".');
  const prefix = path.endsWith('/') ? path : `${path}/`;
  const matching = Object.values(ctx.state.parameters)
    .filter((p) => p.name.startsWith(prefix) && (input.Recursive || !p.name.slice(prefix.length).includes('/')))
    .sort((a, b) => a.name.localeCompare(b.name));
  const { items, next } = page(matching, input.MaxResults, input.NextToken, 10);
  return { Parameters: items.map((p) => parameterShape(ctx, p, input.WithDecryption)), NextToken: next };
}

export function deleteParameter(ctx: RegionContext, input: DeleteParameterRequest): DeleteParameterResult {
  const record = ctx.state.parameters[input.Name ?? ''];
  if (!record || record.public) fail('ParameterNotFound', '');
  delete ctx.state.parameters[record.name];
  return {};
}

export function deleteParameters(ctx: RegionContext, input: DeleteParametersRequest): DeleteParametersResult {
  const deleted: string[] = [];
  const invalid: string[] = [];
  for (const name of input.Names ?? []) {
    const record = ctx.state.parameters[name];
    if (record && !record.public) {
      delete ctx.state.parameters[name];
      deleted.push(name);
    } else {
      invalid.push(name);
    }
  }
  return { DeletedParameters: deleted, InvalidParameters: invalid };
}

/** A read-only `/aws/service/…` parameter, as AWS publishes for AMI ids. */
export function putPublicParameter(ctx: RegionContext, name: string, value: string): void {
  ctx.state.parameters[name] = {
    name,
    type: 'String',
    value,
    version: 1,
    lastModified: ctx.now(),
    dataType: value.startsWith('ami-') ? 'aws:ec2:image' : 'text',
    tags: {},
    public: true,
  };
}
