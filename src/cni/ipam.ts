/**
 * Delegated IPAM (spec section 4): the plugin named by `ipam.type` is looked up in CNI_PATH
 * and executed with the same environment (CNI_COMMAND set per operation) and the same stdin —
 * the complete network configuration, as libcni does. Its stderr goes to ours; its error JSON
 * is propagated with the delegate's code, msg and details.
 *
 * Version fallback: a delegate that does not speak the request's cniVersion (e.g. Debian's
 * host-local 1.1.1 stops at 1.0.0 while the conf says 1.1.0) answers code 1; ovnic then asks
 * it for VERSION and retries once with the highest common version, converting prevResult.
 * GC and STATUS exist only from 1.1.0: they are forwarded only to delegates that support it
 * (one VERSION query), otherwise skipped.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import { CniError, CniErrorCode } from './errors.js';
import type { CniCommand, RawEnv } from './env.js';
import { formatResult, parseResult, type CniResult } from './result.js';
import { SUPPORTED_VERSIONS, highestCommonVersion, isSemver, versionAtLeast } from './version.js';
import { silentCniLogger, type CniLogger } from './log.js';

export const DEFAULT_IPAM_TIMEOUT_MS = 60_000;

/** Absolute path of plugin `type` in the first CNI_PATH directory holding an executable file of that name. */
export function findPlugin(type: string, cniPath: readonly string[]): string {
  if (type === '' || type.includes('/') || type === '.' || type === '..') {
    throw new CniError(CniErrorCode.InvalidNetworkConfig, `invalid plugin name "${type}"`);
  }
  for (const dir of cniPath) {
    const candidate = join(dir, type);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      continue;
    }
  }
  throw new CniError(
    CniErrorCode.InvalidNetworkConfig,
    `failed to find plugin "${type}" in path [${cniPath.join(' ')}]`,
    'install the IPAM plugin in one of the CNI_PATH directories or fix "ipam.type"',
  );
}

export interface ExecOutcome {
  stdout: string;
}

export interface ExecOptions {
  pluginPath: string;
  command: CniCommand;
  env: RawEnv;
  stdin: string | Uint8Array;
  timeoutMs: number;
  /** Names the plugin in messages. */
  label: string;
}

/**
 * Run a CNI plugin binary once; exit 0 → its stdout, otherwise the CniError it printed (or one
 * describing the failure). node:child_process is loaded on first use: VERSION never needs it.
 */
export async function execPlugin(options: ExecOptions): Promise<ExecOutcome> {
  const { spawn } = await import('node:child_process');
  const { pluginPath, command, label } = options;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.env)) if (v !== undefined) env[k] = v;
  env.CNI_COMMAND = command;

  return new Promise<ExecOutcome>((resolve, reject) => {
    let child;
    try {
      child = spawn(pluginPath, [], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    } catch (err) {
      reject(new CniError(CniErrorCode.IoFailure, `failed to execute ${label}`, (err as Error).message));
      return;
    }
    const chunks: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stdin.on('error', () => {
      // the plugin may exit without reading stdin; its exit status tells what happened
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new CniError(CniErrorCode.IoFailure, `failed to execute ${label}`, err.message));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(chunks).toString('utf8');
      if (timedOut) {
        reject(new CniError(CniErrorCode.TryAgainLater, `${label} ${command} timed out after ${options.timeoutMs} ms`));
        return;
      }
      if (code === 0) {
        resolve({ stdout });
        return;
      }
      reject(delegateError(stdout, label, command, code, signal));
    });
    child.stdin.end(options.stdin);
  });
}

function delegateError(stdout: string, label: string, command: string, code: number | null, signal: NodeJS.Signals | null): CniError {
  try {
    const parsed: unknown = JSON.parse(stdout);
    if (typeof parsed === 'object' && parsed !== null) {
      const e = parsed as { code?: unknown; msg?: unknown; details?: unknown };
      if (typeof e.code === 'number' && typeof e.msg === 'string') {
        const details = typeof e.details === 'string' && e.details !== '' ? `${label}: ${e.details}` : `from ${label}`;
        return new CniError(e.code, e.msg, details);
      }
    }
  } catch {
    // not error JSON: described below
  }
  const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
  return new CniError(CniErrorCode.Internal, `${label} ${command} failed: it ${how}`, stdout.trim().slice(0, 500));
}

export interface IpamDelegateOptions {
  /** `ipam.type`. */
  type: string;
  /** CNI_PATH directories. */
  cniPath: readonly string[];
  /** The environment ovnic received; passed through unchanged except CNI_COMMAND. */
  env: RawEnv;
  /** The stdin ovnic received (the complete network configuration). */
  stdin: string | Uint8Array;
  /** cniVersion of the request. */
  cniVersion: string;
  /** prevResult of the request, for re-encoding when falling back to an older version. */
  prevResult?: CniResult;
  timeoutMs?: number;
  log?: CniLogger;
}

/** One delegated IPAM plugin, bound to one CNI invocation. */
export class IpamDelegate {
  readonly type: string;
  readonly pluginPath: string;
  private readonly label: string;
  private readonly log: CniLogger;
  private supportedVersions: string[] | undefined;

  constructor(private readonly options: IpamDelegateOptions) {
    this.type = options.type;
    this.label = `ipam plugin "${options.type}"`;
    this.log = options.log ?? silentCniLogger;
    this.pluginPath = findPlugin(options.type, options.cniPath);
  }

  /** Allocate: the IPAM result in internal form (no interfaces, no ips[].interface). */
  async add(): Promise<CniResult> {
    const { stdout, version } = await this.invoke('ADD');
    let json: unknown;
    try {
      json = JSON.parse(stdout);
    } catch (err) {
      throw new CniError(CniErrorCode.DecodingFailure, `failed to decode ${this.label} result`, (err as Error).message);
    }
    const result = parseResult(json, { defaultVersion: version, what: `${this.label} result` });
    return { interfaces: [], ips: result.ips.map(({ address, gateway }) => (gateway ? { address, gateway } : { address })), routes: result.routes, dns: result.dns };
  }

  async del(): Promise<void> {
    await this.invoke('DEL');
  }

  async check(): Promise<void> {
    await this.invoke('CHECK');
  }

  /** GC forwarded to the delegate; false when it predates 1.1.0 (no GC) and was skipped. */
  async gc(): Promise<boolean> {
    return this.invokeIfSupported('GC');
  }

  /** STATUS forwarded to the delegate; false when it predates 1.1.0 (no STATUS) and was skipped. */
  async status(): Promise<boolean> {
    return this.invokeIfSupported('STATUS');
  }

  /**
   * ADD, then `use(result)`; if `use` throws, DEL the allocation (best effort, logged) and rethrow
   * the original error — the spec's "on ADD failure after a delegated IPAM ADD, run IPAM DEL".
   */
  async addWithRollback<T>(use: (result: CniResult) => Promise<T>): Promise<T> {
    const result = await this.add();
    try {
      return await use(result);
    } catch (err) {
      try {
        await this.del();
      } catch (delErr) {
        this.log.warn({ err: delErr }, `${this.label} DEL during ADD rollback failed`);
      }
      throw err;
    }
  }

  /** The delegate's VERSION answer (cached). */
  async versions(): Promise<string[]> {
    if (this.supportedVersions) return this.supportedVersions;
    const { stdout } = await this.exec('VERSION', JSON.stringify({ cniVersion: this.options.cniVersion }));
    let parsed: unknown;
    try {
      parsed = JSON.parse(stdout);
    } catch (err) {
      throw new CniError(CniErrorCode.DecodingFailure, `failed to decode ${this.label} VERSION`, (err as Error).message);
    }
    const list = (parsed as { supportedVersions?: unknown }).supportedVersions;
    if (!Array.isArray(list) || !list.every(isSemver)) {
      throw new CniError(CniErrorCode.DecodingFailure, `failed to decode ${this.label} VERSION`, 'supportedVersions is not a list of versions');
    }
    this.supportedVersions = list;
    return list;
  }

  private async invokeIfSupported(command: 'GC' | 'STATUS'): Promise<boolean> {
    const theirs = await this.versions();
    if (!theirs.some((v) => versionAtLeast(v, '1.1.0'))) {
      this.log.debug(`${this.label} supports [${theirs.join(' ')}]: no ${command}, skipped`);
      return false;
    }
    await this.invoke(command);
    return true;
  }

  private async invoke(command: CniCommand): Promise<{ stdout: string; version: string }> {
    const requested = this.options.cniVersion;
    try {
      const { stdout } = await this.exec(command, this.options.stdin);
      return { stdout, version: requested };
    } catch (err) {
      if (!(err instanceof CniError) || err.code !== CniErrorCode.IncompatibleVersion) throw err;
      const fallback = await this.fallbackVersion(command);
      if (!fallback) throw err;
      this.log.debug(`${this.label} does not support ${requested}; retrying ${command} with ${fallback}`);
      const { stdout } = await this.exec(command, this.stdinForVersion(fallback));
      return { stdout, version: fallback };
    }
  }

  private async fallbackVersion(command: CniCommand): Promise<string | undefined> {
    let theirs: string[];
    try {
      theirs = await this.versions();
    } catch {
      return undefined;
    }
    const minimum = command === 'CHECK' ? '0.4.0' : command === 'GC' || command === 'STATUS' ? '1.1.0' : '0.3.0';
    const candidates = SUPPORTED_VERSIONS.filter((v) => versionAtLeast(v, minimum));
    const best = highestCommonVersion(candidates, theirs);
    return best && best !== this.options.cniVersion ? best : undefined;
  }

  private stdinForVersion(version: string): string {
    const raw = this.options.stdin;
    const text = typeof raw === 'string' ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
    const conf = JSON.parse(text) as Record<string, unknown>;
    conf.cniVersion = version;
    if (this.options.prevResult) conf.prevResult = formatResult(this.options.prevResult, version);
    return JSON.stringify(conf);
  }

  private exec(command: CniCommand, stdin: string | Uint8Array): Promise<ExecOutcome> {
    return execPlugin({
      pluginPath: this.pluginPath,
      command,
      env: this.options.env,
      stdin,
      timeoutMs: this.options.timeoutMs ?? DEFAULT_IPAM_TIMEOUT_MS,
      label: this.label,
    });
  }
}
