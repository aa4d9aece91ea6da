/**
 * `RESET_ACCESS_CONFIG` (infra/config.ts): nested settings are merged field by field over the
 * defaults, and a stop batch size that cannot be sent is refused at load with what to write instead.
 */
import { defaultConfig } from '../../domain/config';
import { loadConfig } from '../../infra/config';

describe('loadConfig', () => {
  it('keeps the defaults of a nested setting the override does not name', () => {
    // Act
    const config = loadConfig({ RESET_ACCESS_CONFIG: JSON.stringify({ stopBatching: { maxInstances: 10 }, requestPacing: { mutating: { ratePerMinute: 120 } } }) });
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

  it.each([0, -3, 2.5, '20'])('refuses a stop batch size of %p', (maxInstances) => {
    // Act
    const load = () => loadConfig({ RESET_ACCESS_CONFIG: JSON.stringify({ stopBatching: { maxInstances } }) });
    // Assess
    expect(load).toThrow(/stopBatching\.maxInstances must be a whole number of at least 1.*stopBatching\.enabled false/);
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

describe('the Windows fast path and its warm pool', () => {
  it('are on with no pool by default, and one field of each may be set alone', () => {
    // Act
    const config = loadConfig({ RESET_ACCESS_CONFIG: JSON.stringify({ windowsFastPath: { helperImage: '/reset-access/ntfs-helper' }, windowsHelperPool: { size: 2, availabilityZones: ['eu-west-1a'] } }) });
    // Assess
    expect(defaultConfig.windowsFastPath.enabled).toBe(true);
    expect(defaultConfig.windowsHelperPool.size).toBe(0);
    expect(config.windowsFastPath).toEqual({ enabled: true, helperImage: '/reset-access/ntfs-helper' });
    expect(config.windowsHelperPool).toEqual({ size: 2, availabilityZones: ['eu-west-1a'], instanceType: defaultConfig.windowsHelperPool.instanceType });
  });

  it.each([
    [{ windowsHelperPool: { size: -1 } }, /windowsHelperPool\.size must be a whole number of at least 0, got -1/],
    [{ windowsHelperPool: { availabilityZones: 'us-east-1a' } }, /windowsHelperPool\.availabilityZones must be a list of zone names/],
    [{ windowsFastPath: { helperImage: 'ubuntu' } }, /windowsFastPath\.helperImage must be an SSM parameter name \(\/…\) or an AMI id/],
  ])('refuses %j, naming the field', (override, message) => {
    expect(() => loadConfig({ RESET_ACCESS_CONFIG: JSON.stringify(override) })).toThrow(message);
  });
});
