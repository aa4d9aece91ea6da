/**
 * Each Lambda function is wired with what its use case's ports ask for (handlers/lambda-ports.ts),
 * a phase with the optional ports its declaration names (domain/pipeline/phases/): a function without
 * `keys`, `online` or `observer` would silently skip the key check, reset offline or publish no job
 * events. So: run resets of every kind on the simulated region, note which function read which
 * port, and hold that against what each function's Lambda wiring gives it.
 */
import { PHASES, phaseDefinition, type PhaseName } from '../../domain/pipeline/phases';
import type { PhaseMessage } from '../../domain/ports';
import { VirtualStack } from '../../infra/local/virtual-stack';
import { lambdaApiPorts, lambdaPhasePorts, lambdaSweeperPorts, lambdaTriggerPorts } from '../../handlers/lambda-ports';
import { alarmEvent } from '../support/events';

const OPTIONAL = ['networks', 'rescue', 'keys', 'online', 'observer', 'admission', 'stopBatches', 'helperPool'] as const;
type Optional = (typeof OPTIONAL)[number];
type FunctionName = PhaseName | 'api' | 'alarm' | 'sweeper';

const AL2023 = 'i-0a1b2c3d4e5f60001'; // tagged reset-access:auto=true
const ENCRYPTED = 'i-0a1b2c3d4e5f60003'; // KMS-encrypted root
const MARKETPLACE = 'i-0a1b2c3d4e5f60004';
const WINDOWS = 'i-0a1b2c3d4e5f60007';
const LINUX_MANAGED = 'i-0a1b2c3d4e5f60009';
const WINDOWS_MANAGED = 'i-0a1b2c3d4e5f6000a';
const HOUR = 3600_000;

/**
 * A stack whose optional ports note, on every use, the function running: the phase being
 * delivered, or the API, the alarm function, the sweeper. A use outside all of these is noted as
 * `unattributed`.
 */
function recordingStack(read: Map<string, Set<Optional>>): VirtualStack {
  const stack = new VirtualStack();
  let running: string | undefined;
  const note = (port: Optional) => {
    const name = running ?? 'unattributed';
    read.set(name, (read.get(name) ?? new Set()).add(port));
  };
  const recording = <T extends object>(target: T, port: Optional): T =>
    new Proxy(target, {
      get(object, property, receiver) {
        note(port);
        const value = Reflect.get(object, property, receiver) as unknown;
        // A method runs on the port itself: what it reaches inside (its own fields, another port it
        // was built with) is not a use by the function, and a proxy there can leak into shared state.
        if (typeof value === 'function') return value.bind(object) as unknown;
        // Built-in collections keep their own receivers (a proxied Map cannot be read).
        const nested = typeof value === 'object' && value !== null && !(value instanceof Map) && !(value instanceof Set);
        return nested ? recording(value, port) : value;
      },
    });
  const ports = stack.ports as unknown as Record<Optional, object | undefined>;
  for (const port of OPTIONAL) if (ports[port]) ports[port] = recording(ports[port]!, port);
  function within<F extends (...args: never[]) => Promise<unknown>>(name: (...args: Parameters<F>) => string, call: F): F {
    return (async (...args: Parameters<F>) => {
      running = name(...args);
      try {
        return await call(...args);
      } finally {
        running = undefined;
      }
    }) as F;
  }
  stack.deliver = within((message: PhaseMessage) => message.phase, stack.deliver.bind(stack));
  stack.api = within(() => 'api', stack.api.bind(stack));
  stack.trigger = within(() => 'alarm', stack.trigger.bind(stack));
  stack.sweep = within(() => 'sweeper', stack.sweep.bind(stack));
  return stack;
}

/** The optional ports each function's Lambda wiring gives it, from the handlers themselves. */
function lambdaWiring(): Map<FunctionName, Set<Optional>> {
  const has = (ports: object) => new Set(OPTIONAL.filter((port) => port in ports));
  const wired = new Map<FunctionName, Set<Optional>>([
    ['api', has(lambdaApiPorts())],
    ['alarm', has(lambdaTriggerPorts())],
    ['sweeper', has(lambdaSweeperPorts())],
  ]);
  for (const phase of PHASES) wired.set(phase, has(lambdaPhasePorts(phase)()));
  return wired;
}

describe('the Lambda wiring', () => {
  const saved = { ...process.env };
  const read = new Map<string, Set<Optional>>();
  let wired: Map<FunctionName, Set<Optional>>;

  beforeAll(async () => {
    // Prepare: the environment serverless.yml gives the functions (nothing is called with it)
    Object.assign(process.env, {
      TABLE_NAME: 'jobs',
      EVENT_BUS_NAME: 'bus',
      HELPER_INSTANCE_PROFILE: 'helper',
      PHASE_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/phase',
      ALARM_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/alarm',
    });
    wired = lambdaWiring();

    // Act: resets of every kind, started by the API and by an alarm, and a sweep that rolls one back
    for (const body of [
      { instanceId: AL2023 },
      { instanceId: ENCRYPTED },
      { instanceId: MARKETPLACE },
      { instanceId: WINDOWS },
      { instanceId: LINUX_MANAGED },
      { instanceId: WINDOWS_MANAGED },
      { instanceId: LINUX_MANAGED, mode: 'offline' },
    ]) {
      const stack = recordingStack(read);
      await stack.api('POST', '/resets', body);
      await stack.run();
      await stack.api('GET', '/instances');
    }
    const alarmed = recordingStack(read);
    await alarmed.trigger(alarmEvent(AL2023));
    await alarmed.run();
    const overdue = recordingStack(read);
    await overdue.api('POST', '/resets', { instanceId: AL2023 });
    overdue.clock.advance(7 * 24 * HOUR);
    await overdue.sweep();
    await overdue.run();
  }, 120_000);

  afterAll(() => {
    process.env = saved;
  });

  it('gives every function each optional port its use case read', () => {
    // Assess
    const missing = [...read].flatMap(([name, ports]) =>
      [...ports].filter((port) => !wired.get(name as FunctionName)?.has(port)).map((port) => `${name} reads ${port}`),
    );
    expect(missing).toEqual([]);
  });

  it('saw the reads that matter: the key check, the online choice and resets, the job events', () => {
    // Assess
    expect(read.get('validate')).toEqual(new Set(['keys', 'online', 'observer']));
    expect(read.get('online-reset')).toEqual(new Set(['online', 'observer']));
    expect(read.get('api')).toEqual(new Set(['networks', 'keys', 'online', 'observer', 'admission']));
    expect(read.get('alarm')).toEqual(new Set(['networks', 'online', 'observer', 'admission']));
    // The phases that send mutating or RunInstances/StartInstances calls take their slots (request-pacing.ts).
    for (const phase of ['stop-target', 'launch-helper', 'detach-root', 'attach-to-helper', 'restore-target'] as const)
      expect(read.get(phase)).toContain('admission');
    // A first stop looks for a batch to join (stop-batches.ts); the API and the alarm function never do.
    expect(read.get('stop-target')).toContain('stopBatches');
    // The sweeper keeps the warm pool of Windows helpers (domain/sweeper/helper-pool.ts): it reads its record each run.
    expect(read.get('sweeper')).toEqual(new Set(['helperPool']));
  });

  it('gives each phase the optional ports it declares and no other', () => {
    // Assess
    for (const phase of PHASES) {
      const declared = phaseDefinition(phase).ports;
      expect([...wired.get(phase)!].filter((port) => port !== 'observer' && port !== 'admission').sort()).toEqual([...declared].sort());
    }
    const extras = PHASES.filter((phase) => wired.get(phase)!.has('keys') || wired.get(phase)!.has('online'));
    expect(extras).toEqual(['validate', 'online-reset']);
  });
});
