import type { Ec2Action, Ec2Actions, SimService, SsmAction, SsmActions } from './actions';

/** The error a fault answers: an AWS error, or `'throttle'` for the service's throttling error. */
export type FaultError = { code: string; message?: string; status?: number } | 'throttle';

interface FaultRuleBase {
  /** How many calls it affects; every matching call when omitted. */
  times?: number;
  /**
   * `before` (default): the call fails and changes nothing. `after`: the call takes effect, then
   * the answer is lost and the error is returned instead (what a retry after a timeout sees).
   */
  when?: 'before' | 'after';
  /** The error to answer. Exactly one of `error` and `asyncFailure`. */
  error?: FaultError;
  /**
   * The call succeeds, but the asynchronous work it starts fails later: CreateImage → image
   * `failed`; SendCommand → invocation `Failed`; AttachVolume → attach fails (EBS event);
   * StopInstances → stuck in `stopping` (a second non-forced stop with this fault: still stuck); RunInstances → `pending` → `terminated`.
   */
  asyncFailure?: true | { message?: string };
}

type RuleFor<S extends SimService, A extends string, I> = FaultRuleBase & {
  service: S;
  action: A;
  /** Only calls whose input (SDK shape) satisfies this are affected. */
  match?: (input: I) => boolean;
};

/** A fault to inject into calls of one action (or `'*'`: every action of the service). */
export type FaultRule =
  | { [K in Ec2Action]: RuleFor<'ec2', K, Ec2Actions[K][0]> }[Ec2Action]
  | { [K in SsmAction]: RuleFor<'ssm', K, SsmActions[K][0]> }[SsmAction]
  | (FaultRuleBase & { service: SimService; action: '*'; match?: (input: unknown, action: string) => boolean });

/** A rule once added: how often it fired, and a way to take it out. */
export interface FaultHandle {
  readonly hits: number;
  remove(): void;
}

interface ActiveRule {
  rule: FaultRule;
  hits: number;
  remaining: number;
}

/** The fault rules of a region, consulted on every call. */
export class FaultInjector {
  private rules: ActiveRule[] = [];

  add(rule: FaultRule): FaultHandle {
    if ((rule.error === undefined) === (rule.asyncFailure === undefined)) {
      throw new Error('A fault rule needs exactly one of `error` and `asyncFailure`');
    }
    const active: ActiveRule = { rule, hits: 0, remaining: rule.times ?? Infinity };
    this.rules.push(active);
    return {
      get hits() {
        return active.hits;
      },
      remove: () => {
        this.rules = this.rules.filter((r) => r !== active);
      },
    };
  }

  clear(): void {
    this.rules = [];
  }

  /** The first rule for this call and phase, counted as fired; internal to the region. */
  take(service: SimService, action: string, input: unknown, phase: 'before' | 'after' | 'async'): FaultRule | undefined {
    const found = this.rules.find(({ rule, remaining }) => {
      if (remaining <= 0 || rule.service !== service || (rule.action !== '*' && rule.action !== action)) return false;
      const rulePhase = rule.asyncFailure !== undefined ? 'async' : (rule.when ?? 'before');
      if (rulePhase !== phase) return false;
      const match = rule.match as ((input: unknown, action: string) => boolean) | undefined;
      return !match || match(input, action);
    });
    if (!found) return undefined;
    found.hits += 1;
    found.remaining -= 1;
    return found.rule;
  }

  /** Undoes a `take` whose call was refused before the fault could show: it did not fire. */
  giveBack(rule: FaultRule): void {
    const active = this.rules.find((r) => r.rule === rule);
    if (!active) return;
    active.hits -= 1;
    active.remaining += 1;
  }
}
