/**
 * `RESET_ACCESS_CONFIG` (infra/wiring/config.ts): nested settings are merged field by field over the
 * defaults, and a stop batch size that cannot be sent is refused at load with what to write instead.
 */
import * as z from 'zod/mini';
import { defaultConfig } from '../../../domain/config';
import { loadConfig, serviceConfigSchema } from '../../../infra/wiring/config';

describe('loadConfig', () => {
  it('keeps the defaults of a nested setting the override does not name', () => {
    // Act
    const config = loadConfig({
      RESET_ACCESS_CONFIG: JSON.stringify({ stopBatching: { maxInstances: 10 }, requestPacing: { mutating: { ratePerMinute: 120 } } }),
    });
    // Assess
    expect(config.stopBatching).toEqual({ enabled: true, maxInstances: 10 });
    expect(config.requestPacing.mutating).toEqual({ ratePerMinute: 120, burst: defaultConfig.requestPacing.mutating.burst });
  });

  it('turns stop batching off', () => {
    // Act
    const config = loadConfig({ RESET_ACCESS_CONFIG: JSON.stringify({ stopBatching: { enabled: false } }) });
    // Assess
    expect(config.stopBatching).toEqual({ enabled: false, maxInstances: defaultConfig.stopBatching.maxInstances });
  });

  it("takes the opt-in guard and the deployment's id from what serverless.yml sets, over RESET_ACCESS_CONFIG", () => {
    // Act
    const deployed = loadConfig({
      RESET_ACCESS_DEPLOYMENT: 'ec2-reset-access-prod',
      RESET_ACCESS_REQUIRE_ALLOWED_TAG: 'false',
      RESET_ACCESS_CONFIG: JSON.stringify({ optIn: { requireAllowedTag: true } }),
    });
    const unset = loadConfig({});
    // Assess
    expect([deployed.deployment, deployed.optIn.requireAllowedTag]).toEqual(['ec2-reset-access-prod', false]);
    expect([unset.deployment, unset.optIn.requireAllowedTag]).toEqual(['ec2-reset-access-local', true]);
  });

  it.each([0, -3, 2.5, '20'])('refuses a stop batch size of %p', (maxInstances) => {
    // Act
    const load = () => loadConfig({ RESET_ACCESS_CONFIG: JSON.stringify({ stopBatching: { maxInstances } }) });
    // Assess
    expect(load).toThrow(
      'RESET_ACCESS_CONFIG: stopBatching.maxInstances: must be a whole number of at least 1 (turn batching off with stopBatching.enabled false)',
    );
  });
});

describe('the API start rate', () => {
  it('follows how the account shares its EC2 buckets, unless set', () => {
    // Act
    const shared = loadConfig({});
    const perAction = loadConfig({ RESET_ACCESS_CONFIG: JSON.stringify({ requestPacing: { scope: 'action' } }) });
    const set = loadConfig({ RESET_ACCESS_CONFIG: JSON.stringify({ requestPacing: { scope: 'action' }, apiAdmission: { ratePerMinute: 30 } }) });
    // Assess
    expect(shared.apiAdmission).toEqual({ ratePerMinute: 65, burst: 50 });
    expect(perAction.apiAdmission).toEqual({ ratePerMinute: 120, burst: 50 });
    expect(set.apiAdmission).toEqual({ ratePerMinute: 30, burst: 50 });
  });
});

describe('the API read rate (start requests that started nothing)', () => {
  it('has its default, and one field may be set alone', () => {
    // Act
    const defaults = loadConfig({});
    const set = loadConfig({ RESET_ACCESS_CONFIG: JSON.stringify({ apiReadAdmission: { burst: 5 } }) });
    // Assess
    expect(defaults.apiReadAdmission).toEqual({ ratePerMinute: 120, burst: 50 });
    expect(set.apiReadAdmission).toEqual({ ratePerMinute: 120, burst: 5 });
  });
});

describe('RESET_ACCESS_CONFIG is read by its schema', () => {
  it('accepts the defaults themselves', () => {
    // Assess
    expect(z.safeParse(serviceConfigSchema, defaultConfig).error?.issues).toBeUndefined();
  });

  it('merges per-phase settings and keeps lists whole', () => {
    // Act
    const config = loadConfig({
      RESET_ACCESS_CONFIG: JSON.stringify({
        phaseDeadlineSeconds: { 'run-rescue': 1800 },
        allowedHelperInstanceTypes: ['t3.large'],
        sweeper: { dryRun: true },
      }),
    });
    // Assess
    expect(config.phaseDeadlineSeconds).toEqual({ 'run-rescue': 1800 });
    expect(config.allowedHelperInstanceTypes).toEqual(['t3.large']);
    expect(config.sweeper).toEqual({ ...defaultConfig.sweeper, dryRun: true });
  });

  it.each([
    ['a misspelt setting', { stopBatchin: { enabled: false } }, 'RESET_ACCESS_CONFIG: stopBatchin: unknown field'],
    ['a misspelt nested setting', { optIn: { requireAllowTag: true } }, 'RESET_ACCESS_CONFIG: optIn.requireAllowTag: unknown field'],
    ['a string for a number', { maxRetries: '8' }, 'RESET_ACCESS_CONFIG: maxRetries: must be a whole number of at least 0'],
    ['a negative time', { sweeper: { graceSeconds: -1 } }, 'RESET_ACCESS_CONFIG: sweeper.graceSeconds: must be a number of seconds, 0 or more'],
    ['a rate of 0', { eventAdmission: { ratePerMinute: 0 } }, 'RESET_ACCESS_CONFIG: eventAdmission.ratePerMinute: must be a number above 0'],
    ['a scope it does not know', { requestPacing: { scope: 'account' } }, 'RESET_ACCESS_CONFIG: requestPacing.scope: must be "category" or "action"'],
    ['a deadline for no phase', { phaseDeadlineSeconds: { 'run-rescu': 60 } }, 'RESET_ACCESS_CONFIG: phaseDeadlineSeconds.run-rescu: names no phase'],
    ['one stop escalation time', { stopEscalationSeconds: [300] }, 'RESET_ACCESS_CONFIG: stopEscalationSeconds'],
    ['a list for an object', [1], 'RESET_ACCESS_CONFIG: the value: Invalid input: expected object, received array'],
    ['several at once', { maxRetries: -1, colour: 'red' }, 'RESET_ACCESS_CONFIG: maxRetries: must be a whole number of at least 0; colour: unknown field'],
  ])('refuses %s, naming it', (_what, value, message) => {
    // Act
    const load = () => loadConfig({ RESET_ACCESS_CONFIG: JSON.stringify(value) });
    // Assess
    expect(load).toThrow(message);
  });

  it('refuses a value that is not JSON', () => {
    // Assess
    expect(() => loadConfig({ RESET_ACCESS_CONFIG: '{maxRetries: 3}' })).toThrow(/^RESET_ACCESS_CONFIG is not JSON: /);
  });
});

describe('the Windows fast path and its warm pool', () => {
  it('are on with no pool by default, and one field of each may be set alone', () => {
    // Act
    const config = loadConfig({
      RESET_ACCESS_CONFIG: JSON.stringify({
        windowsFastPath: { helperImage: '/reset-access/ntfs-helper' },
        windowsHelperPool: { size: 2, availabilityZones: ['eu-west-1a'] },
      }),
    });
    // Assess
    expect(defaultConfig.windowsFastPath.enabled).toBe(true);
    expect(defaultConfig.windowsHelperPool.size).toBe(0);
    expect(config.windowsFastPath).toEqual({ enabled: true, helperImage: '/reset-access/ntfs-helper' });
    expect(config.windowsHelperPool).toEqual({ size: 2, availabilityZones: ['eu-west-1a'], instanceType: defaultConfig.windowsHelperPool.instanceType });
  });

  it.each([
    [{ windowsHelperPool: { size: -1 } }, /windowsHelperPool\.size: must be a whole number of at least 0/],
    [{ windowsHelperPool: { availabilityZones: 'us-east-1a' } }, /windowsHelperPool\.availabilityZones: must be a list of zone names/],
    [{ windowsFastPath: { helperImage: 'ubuntu' } }, /windowsFastPath\.helperImage: must be an SSM parameter name \(\/…\) or an AMI id/],
  ])('refuses %j, naming the field', (override, message) => {
    expect(() => loadConfig({ RESET_ACCESS_CONFIG: JSON.stringify(override) })).toThrow(message);
  });
});
