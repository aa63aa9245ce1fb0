/**
 * Executing a CNI plugin the way a runtime does: a clean environment with the CNI_* variables,
 * the network configuration on stdin, the result (or error JSON) read from stdout.
 * Used by `npm run sandbox`, the integration tests and bench/cni.ts.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is src/sandbox/plugin.ts or dist/sandbox/plugin.js). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built plugin as a runtime finds it (after `npm run build`). */
export const OVNIC_BIN = join(REPO_ROOT, 'bin', 'ovnic');
/** Debian's containernetworking-plugins. */
export const SYSTEM_CNI_DIR = '/usr/lib/cni';

export type CniCommandName = 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'STATUS' | 'VERSION';

export interface CniCall {
  command: CniCommandName;
  containerId?: string;
  netns?: string;
  ifname?: string;
  /** CNI_ARGS, e.g. "K8S_POD_NAME=a;K8S_POD_NAMESPACE=b". */
  args?: string;
  /** CNI_PATH directories (default: /usr/lib/cni). */
  path?: readonly string[];
  /** More variables (e.g. OVNIC_TEST_FAULTS); undefined values are left out. */
  extraEnv?: Readonly<Record<string, string | undefined>>;
}

export interface PluginRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** stdout parsed, when it is JSON. */
  json: Record<string, unknown> | undefined;
  durationMs: number;
}

/** The environment a runtime passes: PATH plus the CNI_* variables of `call`. */
export function cniEnvironment(call: CniCall): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', CNI_COMMAND: call.command };
  if (call.containerId !== undefined) env.CNI_CONTAINERID = call.containerId;
  if (call.netns !== undefined) env.CNI_NETNS = call.netns;
  if (call.ifname !== undefined) env.CNI_IFNAME = call.ifname;
  if (call.args !== undefined) env.CNI_ARGS = call.args;
  env.CNI_PATH = (call.path ?? [SYSTEM_CNI_DIR]).join(':');
  for (const [k, v] of Object.entries(call.extraEnv ?? {})) if (v !== undefined) env[k] = v;
  return env;
}

/** Runs `binary` once with `call`'s environment and `config` (an object is JSON-encoded) on stdin. */
export function runPlugin(binary: string, call: CniCall, config: unknown, timeoutMs = 60_000): Promise<PluginRun> {
  const stdin = typeof config === 'string' ? config : JSON.stringify(config);
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [], { env: cniEnvironment(call), stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(stdout) as Record<string, unknown>;
      } catch {
        json = undefined;
      }
      resolve({ exitCode: code, stdout, stderr: Buffer.concat(err).toString('utf8'), json, durationMs: Number(process.hrtime.bigint() - started) / 1e6 });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

/** Like runPlugin, but a non-zero exit is thrown with the plugin's error JSON in the message. */
export async function runPluginOk(binary: string, call: CniCall, config: unknown, timeoutMs?: number): Promise<PluginRun> {
  const run = await runPlugin(binary, call, config, timeoutMs);
  if (run.exitCode !== 0) {
    throw new Error(`${binary} ${call.command} exited ${run.exitCode}: ${run.stdout.trim() || '(no output)'}${run.stderr.trim() ? `\n${run.stderr.trim()}` : ''}`);
  }
  return run;
}
