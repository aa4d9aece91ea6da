import type { PhaseName, Platform } from './job';

/**
 * Settings of the service. Defaults come from REFERENCE.md's timings (sources there and in
 * `infra/sim/timings.ts`); every one can be overridden by the environment (see infra/config.ts).
 */
export interface ServiceConfig {
  region: string;
  /** Instance profile name the helper runs with (SSM core + PutParameter under /ec2rl/openssh/*). */
  helperInstanceProfile: string;
  helperImageParameter: Record<Platform, string>;
  defaultHelperInstanceType: string;
  /** Instance types a request may ask for (the runbook's EC2RescueInstanceType and newer ones). */
  allowedHelperInstanceTypes: string[];
  /** Default VPC quota per region; the check before a rescue VPC is made compares against it. */
  vpcQuota: number;
  /** Longest a phase may run (seconds) before the job rolls back. */
  phaseDeadlineSeconds: Record<PhaseName, number>;
  /** Windows helpers and targets boot far slower (≥ 15 min first boot, REFERENCE.md). */
  windowsLaunchDeadlineSeconds: number;
  /** Stop escalation: second stop after this long in `stopping`, force-stop after the second. */
  stopEscalationSeconds: [number, number];
  /** First and longest delay between polls of one phase. */
  pollSeconds: { first: Partial<Record<PhaseName, number>>; defaultFirst: number; max: number; factor: number };
  /** Consecutive retryable errors in one phase before it counts as permanent. */
  maxRetries: number;
  /** How long a lock whose job record never appeared is kept before another request may take it. */
  orphanLockSeconds: number;
  /** Longest a phase handler runs (the phase functions' timeout): rollback waits this long first. */
  inFlightSettleSeconds: number;
  /** Run Command timeout for the rescue script. */
  rescueTimeoutSeconds: number;
}

const minutes = (n: number) => n * 60;

export const defaultConfig: ServiceConfig = {
  region: 'us-east-1',
  helperInstanceProfile: 'reset-access-helper',
  helperImageParameter: {
    linux: '/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64',
    windows: '/aws/service/ami-windows-latest/Windows_Server-2022-English-Full-Base',
  },
  defaultHelperInstanceType: 't3.small',
  allowedHelperInstanceTypes: ['t2.small', 't2.medium', 't2.large', 't3.small', 't3.medium', 't3.large', 'm5.large', 'c5.large'],
  vpcQuota: 5,
  phaseDeadlineSeconds: {
    validate: minutes(5),
    'prepare-network': minutes(10),
    // Launch ≈ 5–17 s to running, SSM Online 30 s to several minutes (REFERENCE.md, user reports).
    'launch-helper': minutes(15),
    // Stop takes "a few minutes"; escalation to force-stop happens well inside this.
    'stop-target': minutes(25),
    'create-backup': minutes(10),
    'detach-root': minutes(10),
    'attach-to-helper': minutes(10),
    'run-rescue': minutes(20),
    'detach-from-helper': minutes(10),
    'reattach-root': minutes(10),
    'create-password-image': minutes(30),
    'restore-target': minutes(20),
    cleanup: minutes(30),
    rollback: minutes(6 * 60),
  },
  windowsLaunchDeadlineSeconds: minutes(40),
  stopEscalationSeconds: [minutes(5), minutes(10)],
  pollSeconds: {
    first: { 'launch-helper': 15, 'stop-target': 15, 'attach-to-helper': 3, 'detach-root': 3, 'detach-from-helper': 3, 'reattach-root': 3, 'run-rescue': 5, 'restore-target': 10 },
    defaultFirst: 5,
    max: 60,
    factor: 1.5,
  },
  maxRetries: 8,
  orphanLockSeconds: 300,
  inFlightSettleSeconds: 60,
  rescueTimeoutSeconds: 600,
};
