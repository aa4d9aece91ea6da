import { chaosArgs } from '../../../infra/local/chaos-args';
import { FAULT_KINDS, WIRE_KINDS } from '../../../infra/local/chaos-harness';

describe("npm run chaos's command line", () => {
  it('reads repeated and valued options', () => {
    // Act
    const args = chaosArgs([
      '--every',
      '3',
      '--kind',
      'crash',
      '--kind',
      'ddb-lost-race',
      '--index',
      '7',
      '--scenario',
      'linux reset',
      '--verbose',
      '--jobs',
      '1',
    ]);

    // Assess
    expect(args).toMatchObject({
      every: 3,
      kinds: ['crash', 'ddb-lost-race'],
      indices: [7],
      scenarios: ['linux reset'],
      verbose: true,
      jobs: 1,
      fleet: false,
      count: 500,
    });
  });

  it('defaults to every kind, every call, and narrows to a plane', () => {
    expect(chaosArgs([])).toMatchObject({ every: 1, kinds: FAULT_KINDS, indices: undefined, fleet: false });
    expect(chaosArgs(['--plane', 'wire']).kinds).toEqual(WIRE_KINDS);
    expect(chaosArgs(['--fleet', '--count', '50'])).toMatchObject({ fleet: true, count: 50 });
  });

  it('refuses what it does not know, naming the option', () => {
    expect(() => chaosArgs(['--every', 'x'])).toThrow(/^--every must be a whole number of at least 1, got "x"/);
    expect(() => chaosArgs(['--kind', 'meteor'])).toThrow(/^--kind must be one of /);
    expect(() => chaosArgs(['--plane', 'air'])).toThrow(/^--plane must be memory or wire/);
    expect(() => chaosArgs(['--scenario', 'mac reset'])).toThrow(/^--scenario must be one of /);
    expect(() => chaosArgs(['--every'])).toThrow(/--every/);
    expect(() => chaosArgs(['--bogus'])).toThrow(/Unknown option '--bogus'/);
  });
});
