import { ConditionalCheckFailedException, InternalServerError, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { QueueDoesNotExist } from '@aws-sdk/client-sqs';
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
  it.each(['RequestLimitExceeded', 'ThrottlingException', 'Throttling', 'TooManyRequestsException', 'ProvisionedThroughputExceededException', 'RequestThrottled'])(
    'makes throttling code %s retryable, keeping code and cause',
    (code) => {
      // Prepare
      const original = awsError(code, 400);

      // Act
      const translated = translateAwsError(original);

      // Assess
      expect(translated).toBeInstanceOf(ThrottledError);
      expect(translated).toBeInstanceOf(RetryableError);
      expect(translated).toMatchObject({ code, cause: original });
    },
  );

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
