import { ConditionalCheckFailedException, InternalServerError, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { QueueDoesNotExist } from '@aws-sdk/client-sqs';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConcurrentUpdateError, PermanentError, RetryableError, ThrottledError } from '../../../domain/errors';
import { isAwsError, translateAwsError } from '../../../infra/aws/errors';

/** An SDK v3 error as deserialised for a service without modelled exceptions (EC2, SSM codes). */
function awsError(name: string, httpStatusCode: number, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(`${name} happened`), { name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode }, ...extra });
}

function networkError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('translateAwsError', () => {
  it.each([
    'RequestLimitExceeded',
    'ThrottlingException',
    'Throttling',
    'TooManyRequestsException',
    'ProvisionedThroughputExceededException',
    'RequestThrottled',
  ])('makes throttling code %s retryable, keeping code and cause', (code) => {
    // Prepare
    const original = awsError(code, 400);

    // Act
    const translated = translateAwsError(original);

    // Assess
    expect(translated).toBeInstanceOf(ThrottledError);
    expect(translated).toBeInstanceOf(RetryableError);
    expect(translated).toMatchObject({ code, cause: original });
  });

  it('keeps a 5xx apart from throttling: retryable, but not ThrottledError', () => {
    // Act
    const translated = translateAwsError(awsError('InternalError', 500));

    // Assess
    expect(translated).toBeInstanceOf(RetryableError);
    expect(translated).not.toBeInstanceOf(ThrottledError);
  });

  it('makes a modelled throttling exception class retryable', () => {
    // Prepare
    const original = new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: { httpStatusCode: 400 } });

    // Act
    const translated = translateAwsError(original, 'DynamoDB PutItem');

    // Assess
    expect(translated).toBeInstanceOf(ThrottledError);
    expect(translated.message).toBe('DynamoDB PutItem: slow down');
  });

  it.each([500, 502, 503, 504])('makes HTTP %i retryable', (status) => {
    // Prepare
    const original = awsError('InternalError', status);

    // Act
    const translated = translateAwsError(original);

    // Assess
    expect(translated).toBeInstanceOf(RetryableError);
    expect((translated as RetryableError).code).toBe('InternalError');
  });

  it('makes a server-fault exception class retryable', () => {
    // Act
    const translated = translateAwsError(new InternalServerError({ message: 'oops', $metadata: { httpStatusCode: 500 } }));

    // Assess
    expect(translated).toBeInstanceOf(RetryableError);
  });

  it('makes an error the service model marks $retryable retryable', () => {
    // Prepare
    const original = awsError('SomeTransientCondition', 400, { $retryable: {} });

    // Act
    const translated = translateAwsError(original);

    // Assess
    expect(translated).toBeInstanceOf(RetryableError);
  });

  it.each([
    ['ECONNRESET', networkError('ECONNRESET', 'read ECONNRESET')],
    ['ECONNREFUSED', networkError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:8000')],
    ['ETIMEDOUT', networkError('ETIMEDOUT', 'connect ETIMEDOUT')],
    ['NetworkingError', new Error('socket hang up')],
    ['TimeoutError', Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError' })],
  ])('makes network failure %s retryable', (code, original) => {
    // Act
    const translated = translateAwsError(original);

    // Assess
    expect(translated).toBeInstanceOf(RetryableError);
    expect(translated).toMatchObject({ code, cause: original });
  });

  it.each([
    ['IncorrectInstanceState', 400],
    ['VolumeInUse', 400],
    ['InvalidInstanceID.NotFound', 400],
    ['UnauthorizedOperation', 403],
    ['AccessDeniedException', 400],
  ])('makes client error %s permanent', (code, status) => {
    // Prepare
    const original = awsError(code, status);

    // Act
    const translated = translateAwsError(original);

    // Assess
    expect(translated).toBeInstanceOf(PermanentError);
    expect(translated).toMatchObject({ code, message: `${code} happened`, cause: original });
  });

  it('makes a modelled client exception class permanent', () => {
    // Act
    const translated = translateAwsError(new QueueDoesNotExist({ message: 'no queue', $metadata: { httpStatusCode: 400 } }));

    // Assess
    expect(translated).toBeInstanceOf(PermanentError);
    expect((translated as PermanentError).code).toBe('QueueDoesNotExist');
  });

  it('leaves ConditionalCheckFailedException to the caller: by itself it is a permanent client error', () => {
    // Act
    const translated = translateAwsError(new ConditionalCheckFailedException({ message: 'failed', $metadata: { httpStatusCode: 400 } }));

    // Assess
    expect(translated).toBeInstanceOf(PermanentError);
    expect(translated).not.toBeInstanceOf(ConcurrentUpdateError);
  });

  it('passes errors of the domain hierarchy through unchanged', () => {
    // Prepare
    const original = new ConcurrentUpdateError('job-1');

    // Act
    const translated = translateAwsError(original, 'context');

    // Assess
    expect(translated).toBe(original);
  });

  it('returns a programming error as it is, unclassified', () => {
    // Prepare
    const original = new TypeError("Cannot read properties of undefined (reading 'x')");

    // Act
    const translated = translateAwsError(original);

    // Assess
    expect(translated).toBe(original);
  });
});

describe('translateAwsError classifies as the SDK retry strategy does (@smithy/core/retry)', () => {
  it.each([
    ['HTTP 429 with a code of its own', awsError('SlowDownPlease', 429)],
    ["the model's retryable trait with throttling", awsError('SomeThrottle', 400, { $retryable: { throttling: true } })],
  ])('makes %s throttling', (_what, original) => {
    // Act / Assess
    expect(translateAwsError(original)).toBeInstanceOf(ThrottledError);
  });

  it.each([
    ['a network error given as the cause', Object.assign(new Error('send failed'), { cause: networkError('ECONNRESET', 'read ECONNRESET') })],
    ['EPIPE', networkError('EPIPE', 'write EPIPE')],
    ['EAI_AGAIN', networkError('EAI_AGAIN', 'getaddrinfo EAI_AGAIN ec2.us-east-1.amazonaws.com')],
    ["ECONNABORTED (not in the SDK's list)", networkError('ECONNABORTED', 'aborted')],
    ['HTTP 501', awsError('NotImplementedHere', 501)],
    ['a clock skew the SDK corrected', awsError('RequestExpired', 400, { $metadata: { httpStatusCode: 400, clockSkewCorrected: true } })],
  ])('makes %s retryable, not throttling', (_what, original) => {
    // Act
    const translated = translateAwsError(original);
    // Assess
    expect(translated).toBeInstanceOf(RetryableError);
    expect(translated).not.toBeInstanceOf(ThrottledError);
  });

  it('keeps an aborted call unclassified (the SDK does not retry it either)', () => {
    // Prepare
    const original = Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
    // Act / Assess
    expect(translateAwsError(original)).toBe(original);
  });
});

describe("translateAwsError, for an answer that is not AWS's", () => {
  /** An error as the SDK's deserialiser leaves it: the parser's error, `$metadata` and a hidden `$response` added. */
  function unreadable(original: Error, httpStatusCode: number): Error {
    original.message += '\n  Deserialization error: to see the raw response, inspect the hidden field {error}.$response on this object.';
    Object.defineProperty(original, '$response', { value: { statusCode: httpStatusCode }, enumerable: false });
    return Object.assign(original, { $metadata: { httpStatusCode, requestId: 'rid-1', attempts: 3, totalRetryDelay: 300 } });
  }

  it.each([
    ['a JSON protocol (SyntaxError)', unreadable(new SyntaxError('Unexpected token \'<\', "<html><bod"... is not valid JSON'), 503)],
    ['EC2 (XML parse error)', unreadable(new Error('@aws-sdk XML parse error: unexpected content.'), 502)],
    ['an error body naming no code (Unknown)', awsError('Unknown', 500)],
  ])('answers a 5xx that %s could not read as AWS_UNAVAILABLE, keeping the original as cause and in the message', (_what, original) => {
    // Act
    const translated = translateAwsError(original, 'SSM GetParameter');

    // Assess
    expect(translated).toBeInstanceOf(RetryableError);
    expect(translated).toMatchObject({ code: 'AWS_UNAVAILABLE', cause: original });
    expect(translated.message).toMatch(/^SSM GetParameter: AWS answered HTTP 50\d with a body that is not an AWS answer/);
    expect(translated.message).toContain(original.message.split('\n')[0]);
  });

  it('answers a 4xx it could not read as permanent AWS_UNREADABLE_ANSWER', () => {
    // Act
    const translated = translateAwsError(unreadable(new SyntaxError("Unexpected token '<'"), 403));

    // Assess
    expect(translated).toBeInstanceOf(PermanentError);
    expect((translated as PermanentError).code).toBe('AWS_UNREADABLE_ANSWER');
  });

  it('leaves a network error that the retry strategy gave $metadata as it was', () => {
    // Act
    const translated = translateAwsError(Object.assign(networkError('ECONNRESET', 'read ECONNRESET'), { $metadata: { attempts: 3, totalRetryDelay: 300 } }));

    // Assess
    expect(translated).toBeInstanceOf(RetryableError);
    expect((translated as RetryableError).code).toBe('ECONNRESET');
  });

  it('answers what a real SDK client throws for a 503 HTML page as AWS_UNAVAILABLE', async () => {
    // Prepare: a gateway in front of AWS answering its own error page
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(503, { 'content-type': 'text/html' }).end('<html><body>Service Unavailable</body></html>'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const ssm = new SSMClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 1 });
    try {
      // Act
      const thrown = await ssm.send(new GetParameterCommand({ Name: 'x' })).catch((error: unknown) => error);
      const translated = translateAwsError(thrown, 'SSM GetParameter');

      // Assess
      expect((thrown as Error).name).toBe('SyntaxError');
      expect(translated).toBeInstanceOf(RetryableError);
      expect(translated).toMatchObject({ code: 'AWS_UNAVAILABLE', cause: thrown });
    } finally {
      ssm.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('isAwsError', () => {
  it('matches an AWS error by code', () => {
    // Prepare
    const error = awsError('VolumeInUse', 400);

    // Act
    const matches = [isAwsError(error, 'VolumeInUse'), isAwsError(error, 'IncorrectState', 'VolumeInUse'), isAwsError(error, 'IncorrectState')];

    // Assess
    expect(matches).toEqual([true, true, false]);
  });

  it('recognises an AWS error without codes, and nothing else', () => {
    // Act
    const answers = [isAwsError(awsError('Anything', 400)), isAwsError(new Error('plain')), isAwsError('VolumeInUse'), isAwsError(undefined)];

    // Assess
    expect(answers).toEqual([true, false, false, false]);
  });
});
