/**
 * The AWS SDK clients, built once per cold start (a Lambda function builds the ones it uses,
 * handlers/lambda-ports.ts; the local runtime all of them with `createAwsClients`) and passed into
 * the adapters; nothing deeper constructs a client.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { KMSClient } from '@aws-sdk/client-kms';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { RetryErrorInfo, RetryStrategyV2, RetryToken } from '@aws-sdk/types';

export type AwsService = 'ec2' | 'ssm' | 'dynamodb' | 'sqs' | 'eventbridge' | 'kms' | 'iam';

export interface AwsClients {
  ec2: EC2Client;
  ssm: SSMClient;
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  eventBridge: EventBridgeClient;
  kms: KMSClient;
  /** The access rule's caller tags (ListRoleTags, ListUserTags). */
  iam: IAMClient;
}

/** The request handler every client sends through (the simulated region replaces the network here). */
type RequestHandler = NonNullable<ConstructorParameters<typeof EC2Client>[0]>['requestHandler'];

export interface AwsClientsOptions {
  /** Defaults to `AWS_REGION`, then `AWS_DEFAULT_REGION`, then the SDK's own resolution. */
  region?: string;
  /** Explicit endpoints per service; win over the environment. */
  endpoints?: Partial<Record<AwsService, string>>;
  /** In-process transport, e.g. the simulated region; the network when absent. */
  requestHandler?: RequestHandler;
  /** Attempts per call when AWS throttles (1 = no SDK retry). Default 3. */
  maxAttempts?: number;
  /** Fixed credentials (the local runtime); the SDK's default chain when absent. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Where to read the environment from; `process.env` when absent. */
  env?: Record<string, string | undefined>;
}

/**
 * Default attempts per call. The SDK's own default is 3 with retries of throttling, 5xx and
 * timeouts; see `ThrottlingOnlyRetryStrategy` for why only throttling is retried here.
 */
export const DEFAULT_MAX_ATTEMPTS = 3;

/** The environment variables the SDK reads by itself (`AWS_ENDPOINT_URL_<SERVICE>`). */
const ENDPOINT_VARIABLES: Record<AwsService, string> = {
  ec2: 'AWS_ENDPOINT_URL_EC2',
  ssm: 'AWS_ENDPOINT_URL_SSM',
  dynamodb: 'AWS_ENDPOINT_URL_DYNAMODB',
  sqs: 'AWS_ENDPOINT_URL_SQS',
  eventbridge: 'AWS_ENDPOINT_URL_EVENTBRIDGE',
  kms: 'AWS_ENDPOINT_URL_KMS',
  iam: 'AWS_ENDPOINT_URL_IAM',
};

export function createAwsClients(options: AwsClientsOptions = {}): AwsClients {
  return {
    ec2: new EC2Client(awsClientConfig('ec2', options)),
    ssm: new SSMClient(awsClientConfig('ssm', options)),
    dynamodb: new DynamoDBClient(awsClientConfig('dynamodb', options)),
    sqs: new SQSClient(awsClientConfig('sqs', options)),
    eventBridge: new EventBridgeClient(awsClientConfig('eventbridge', options)),
    kms: new KMSClient(awsClientConfig('kms', options)),
    iam: new IAMClient(awsClientConfig('iam', options)),
  };
}

/** What every client is built with: region, endpoint, transport, credentials, retries. */
export interface AwsClientConfig {
  region?: string;
  endpoint?: string;
  requestHandler?: RequestHandler;
  credentials?: AwsClientsOptions['credentials'];
  retryStrategy: RetryStrategyV2;
}

/**
 * One service's client configuration, as `createAwsClients` builds every client. A Lambda function
 * builds only the clients it uses from it (handlers/lambda-ports.ts): its bundle then holds no other
 * client's code.
 */
export function awsClientConfig(service: AwsService, options: AwsClientsOptions = {}): AwsClientConfig {
  const env = options.env ?? process.env;
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const endpoint = endpointFor(service, options, env);
  return {
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(options.requestHandler ? { requestHandler: options.requestHandler } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    retryStrategy: new ThrottlingOnlyRetryStrategy(options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS),
  };
}

/**
 * The explicit endpoint, if any. The SDK reads `AWS_ENDPOINT_URL_<SERVICE>` by itself, so only SQS
 * gets it passed explicitly: without an explicit `endpoint` the SQS client sends to the host in the
 * queue URL, which for local stand-ins (fauxqs) does not resolve.
 */
function endpointFor(service: AwsService, options: AwsClientsOptions, env: Record<string, string | undefined>): string | undefined {
  const explicit = options.endpoints?.[service];
  if (explicit) return explicit;
  if (service === 'sqs') return env[ENDPOINT_VARIABLES.sqs] || env.AWS_ENDPOINT_URL || undefined;
  return undefined;
}

/**
 * Retries only throttling, at most `maxAttempts` attempts in all, with full-jitter backoff.
 *
 * Why so few, and only throttling: the domain has its own retry policy (a phase that hits a
 * retryable error sends its message back with a backoff and counts it against `maxRetries`), so
 * every SDK retry multiplies with it and keeps a Lambda busy sleeping. A throttled request was
 * refused before AWS acted on it, so repeating it at once is safe and usually succeeds a moment
 * later (EC2's buckets refill every second). A 5xx or a timeout is different: the request may have
 * been carried out (a CreateVpc or CreateImage without a token), and an SDK retry would repeat it
 * blindly; handing it to the domain instead means the next attempt first looks up what exists.
 *
 * What is throttling is the SDK's own call: its retry middleware sets `errorInfo.errorType` with
 * `@smithy/core/retry`'s classification (infra/aws/errors.ts uses the same). The SDK's own
 * StandardRetryStrategy cannot be used with it: it always retries transient errors too (its
 * `isRetryableError` is private) and caps a throttling backoff at 20 s, a third of a phase
 * function's 60 s.
 */
export class ThrottlingOnlyRetryStrategy implements RetryStrategyV2 {
  constructor(
    private readonly maxAttempts: number,
    private readonly baseDelayMs = 250,
    private readonly maxDelayMs = 4_000,
  ) {}

  async acquireInitialRetryToken(): Promise<RetryToken> {
    return token(0, 0);
  }

  async refreshRetryTokenForRetry(previous: RetryToken, errorInfo: RetryErrorInfo): Promise<RetryToken> {
    const retries = previous.getRetryCount() + 1;
    if (errorInfo.errorType !== 'THROTTLING' || retries >= this.maxAttempts) {
      throw errorInfo.error ?? new Error('not retried');
    }
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** retries);
    const hinted = errorInfo.retryAfterHint ? errorInfo.retryAfterHint.getTime() - Date.now() : 0;
    const delay = Math.min(this.maxDelayMs, Math.max(hinted, Math.floor(Math.random() * ceiling)));
    return token(retries, delay);
  }

  recordSuccess(): void {}
}

function token(retryCount: number, delayMs: number): RetryToken {
  return { getRetryCount: () => retryCount, getRetryDelay: () => delayMs };
}
