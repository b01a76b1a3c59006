import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { bundledMain } from '../test/e2e/processes.js';
import { projectRoot } from '../test/support/project-root.js';

/** Starts `secrets-store-csi <args>` as a child process; its logs are dropped (they would be the measurement). */
export function startCli(args: readonly string[]): ChildProcess {
  return spawn(process.execPath, [bundledMain(), ...args], { stdio: 'ignore' });
}

export async function waitForFile(path: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!existsSync(path)) {
    if (Date.now() > until) throw new Error(`${path} did not appear within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Peak resident set size of a process in MiB (VmHWM), or NaN when it cannot be read. */
export function peakRssMiB(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** Nearest-rank percentile. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** User plus system CPU seconds of a process so far (from /proc/<pid>/stat). */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The NODE_OPTIONS the shipped DaemonSet gives the driver container: the bench runs the driver as deployed. */
export function daemonSetNodeOptions(): string {
  return daemonSetEnv('NODE_OPTIONS');
}

/** The process tuning of the shipped DaemonSet's driver container (NODE_OPTIONS aside): its GLIBC_TUNABLES. */
export function daemonSetTuning(): Record<string, string> {
  return { GLIBC_TUNABLES: daemonSetEnv('GLIBC_TUNABLES') };
}

function daemonSetEnv(name: string): string {
  const daemonSet = parseYaml(readFileSync(join(projectRoot(import.meta.url), 'deploy/daemonset.yaml'), 'utf8')) as {
    spec: { template: { spec: { containers: { name: string; env?: { name: string; value?: string }[] }[] } } };
  };
  const driver = daemonSet.spec.template.spec.containers.find((container) => container.name === 'secrets-store');
  return driver?.env?.find((variable) => variable.name === name)?.value ?? '';
}
