/**
 * The CNI dispatcher (the role of containernetworking/cni's skel): environment + stdin in,
 * validation, one handler call, result or error JSON out.
 *
 *   VERSION            answered here; works with empty or absent stdin.
 *   ADD                handler returns the internal result; printed converted to the request's cniVersion.
 *   DEL/CHECK/GC/STATUS  handler returns nothing; no output on success.
 *   any failure        `{cniVersion, code, msg, details}` on stdout, exit code 1.
 *
 * Validation order (as skel): CNI_COMMAND and the variables it needs (4, or 3 for an empty
 * container ID), stdin JSON (6), network name (7), cniVersion (1; CHECK needs 0.4.0, GC/STATUS
 * 1.1.0), CNI_ARGS (4), ovnic keys (7), "CNI_NETNS is the plugin's own netns" (8).
 * Handlers are loaded only after all of that, so VERSION and bad requests never load them.
 */
import { fstatSync, readSync, statSync, writeSync } from 'node:fs';
import { CniError, CniErrorCode, toCniError } from './errors.js';
import { ATTACHMENT_COMMANDS, parseCniArgs, parseCniEnv, type CniArgs, type CniEnv, type RawEnv } from './env.js';
import { decodeConfig, negotiateVersion, parseNetConf, requestedAddressing, validateNetworkName, type OvnicNetConf, type RequestedAddressing } from './config.js';
import { formatResult, type CniResult } from './result.js';
import { CURRENT_VERSION, SUPPORTED_VERSIONS, isSemver, isSupportedVersion } from './version.js';
import { attachmentIdentity, type AttachmentIdentity } from './ownership.js';
import { IpamDelegate } from './ipam.js';
import { createCniLogger, isLogLevel, type CniLogger } from './log.js';
import type { OvsPorts } from '../nic/ovs-port.js';

/** What ADD/DEL/... use of an IPAM plugin: the delegated plugin, or another source of addresses (the node daemon's). */
export type IpamSource = Pick<IpamDelegate, 'add' | 'del' | 'check' | 'gc' | 'status'>;

/** An OVSDB connection for one operation (the node daemon lends its long-lived one); close() releases it. */
export type OvsConnector = (remote: string, timeoutMs?: number) => Promise<OvsPorts>;

interface BaseContext {
  env: CniEnv;
  /** The environment as received, for delegation (IPAM gets it unchanged). */
  rawEnv: RawEnv;
  conf: OvnicNetConf;
  /** stdin exactly as received. */
  rawConfig: Buffer;
  log: CniLogger;
  /** The delegated IPAM plugin of `conf.ipam` (undefined without ipam). Throws CniError 7 when the binary is not in CNI_PATH. */
  ipam(options?: { timeoutMs?: number }): IpamSource | undefined;
  /** Set by the node daemon: a shared OVSDB connection instead of one per operation. */
  connectOvs?: OvsConnector;
}

/** ADD, DEL, CHECK: one attachment (containerID, ifname). */
export interface AttachmentContext extends BaseContext {
  command: 'ADD' | 'DEL' | 'CHECK';
  args: CniArgs;
  identity: AttachmentIdentity;
  /** Addresses/MAC asked for via CNI_ARGS, args.cni or runtimeConfig (runtimeConfig wins). */
  requested: RequestedAddressing;
}

/** GC, STATUS: the whole network; no attachment parameters. */
export interface NetworkContext extends BaseContext {
  command: 'GC' | 'STATUS';
}

export type CniContext = AttachmentContext | NetworkContext;

export interface CniHandlers {
  /** Returns the full result (including prevResult's content when one was given). */
  add(ctx: AttachmentContext): Promise<CniResult>;
  del(ctx: AttachmentContext): Promise<void>;
  check(ctx: AttachmentContext): Promise<void>;
  /** `ctx.conf.validAttachments` is always set for GC. */
  gc(ctx: NetworkContext): Promise<void>;
  status(ctx: NetworkContext): Promise<void>;
}

export type HandlersSource = CniHandlers | (() => Promise<CniHandlers>);

export interface RunCniOptions {
  handlers: HandlersSource;
  /** Printed on stderr when CNI_COMMAND is missing, e.g. "CNI plugin ovnic v0.1.0". */
  about?: string;
  /**
   * Called instead of the handlers when the configuration names a node daemon (`serverSocket`),
   * after validation; its outcome is the invocation's (src/cni/forward.ts).
   */
  forward?: (request: ForwardInput) => Promise<CniOutcome>;
}

export interface ForwardInput {
  socket: string;
  rawEnv: RawEnv;
  stdin: string | Uint8Array;
  log: CniLogger;
}

export interface CniOutcome {
  stdout: string;
  /** Human text for stderr (only the "about" banner); logs go through the logger. */
  stderr: string;
  exitCode: number;
}

function stdinText(stdin: string | Uint8Array): string {
  return typeof stdin === 'string' ? stdin : Buffer.from(stdin.buffer, stdin.byteOffset, stdin.byteLength).toString('utf8');
}

function versionAnswer(stdin: string | Uint8Array): string {
  let cniVersion: string = CURRENT_VERSION;
  try {
    const v = (JSON.parse(stdinText(stdin)) as { cniVersion?: unknown } | null)?.cniVersion;
    if (isSemver(v)) cniVersion = v;
  } catch {
    // VERSION ignores malformed or empty stdin
  }
  return `${JSON.stringify({ cniVersion, supportedVersions: [...SUPPORTED_VERSIONS] })}\n`;
}

function errorOutcome(err: CniError, cniVersion: string, stderr = ''): CniOutcome {
  return { stdout: `${JSON.stringify(err.toJson(cniVersion))}\n`, stderr, exitCode: 1 };
}

function loggerFor(rawEnv: RawEnv, conf: OvnicNetConf | undefined, bindings: Record<string, unknown>): CniLogger & { close(): void } {
  const file = conf?.logFile ?? (rawEnv.OVNIC_LOG_FILE || undefined);
  const envLevel = rawEnv.OVNIC_LOG_LEVEL;
  const level = conf?.logLevel ?? (isLogLevel(envLevel) ? envLevel : file ? 'info' : 'warn');
  return createCniLogger({ level, file, bindings: { component: 'cni', ...bindings } });
}

/** Milliseconds since `start`, one decimal (process.hrtime: the `performance` global loads perf_hooks, ~1 ms). */
function elapsedMs(start: bigint): number {
  return Math.round(Number(process.hrtime.bigint() - start) / 1e5) / 10;
}

/** Same inode as our own network namespace? (ENOENT and friends: not ours.) */
function isOwnNetns(path: string): boolean {
  try {
    const target = statSync(path);
    const own = statSync('/proc/self/ns/net');
    return target.dev === own.dev && target.ino === own.ino;
  } catch {
    return false;
  }
}

/** Run one CNI invocation without touching the process: env and stdin in, stdout and exit code out. */
export async function runCni(rawEnv: RawEnv, stdin: string | Uint8Array, options: RunCniOptions): Promise<CniOutcome> {
  let env: CniEnv;
  try {
    env = parseCniEnv(rawEnv);
  } catch (err) {
    const missingCommand = !rawEnv.CNI_COMMAND && options.about;
    const banner = missingCommand ? `${options.about}\nCNI protocol versions supported: ${SUPPORTED_VERSIONS.join(', ')}\n` : '';
    return errorOutcome(toCniError(err), CURRENT_VERSION, banner);
  }
  if (env.command === 'VERSION') return { stdout: versionAnswer(stdin), stderr: '', exitCode: 0 };
  const command = env.command;

  let errorVersion: string = CURRENT_VERSION;
  let conf: OvnicNetConf | undefined;
  let log: (CniLogger & { close(): void }) | undefined;
  const started = process.hrtime.bigint();
  try {
    const raw = decodeConfig(stdin);
    if (isSupportedVersion(raw.cniVersion)) errorVersion = raw.cniVersion;
    validateNetworkName(raw);
    const cniVersion = negotiateVersion(raw, command);
    errorVersion = cniVersion;
    const isAttachment = ATTACHMENT_COMMANDS.includes(command);
    const args = isAttachment ? parseCniArgs(env.argsText) : undefined;
    conf = parseNetConf(raw, cniVersion, command);
    const bindings: Record<string, unknown> = { command, network: conf.name };
    if (isAttachment) Object.assign(bindings, { containerId: env.containerId, ifname: env.ifname });
    log = loggerFor(rawEnv, conf, bindings);
    if (conf.prevResultIgnored) log.warn({ problem: conf.prevResultIgnored }, 'malformed prevResult ignored');

    if (isAttachment && env.netns !== '' && !env.netnsOverride && isOwnNetns(env.netns)) {
      throw new CniError(CniErrorCode.InvalidNetns, "plugin's netns and netns from CNI_NETNS should not be the same", env.netns);
    }

    const serverSocket = conf.serverSocket;
    if (serverSocket !== undefined && options.forward) {
      const outcome = await options.forward({ socket: serverSocket, rawEnv, stdin, log });
      log.debug({ socket: serverSocket, exitCode: outcome.exitCode, durationMs: elapsedMs(started) }, `${command} forwarded to the node daemon`);
      return outcome;
    }

    const rawConfig = typeof stdin === 'string' ? Buffer.from(stdin, 'utf8') : Buffer.from(stdin.buffer, stdin.byteOffset, stdin.byteLength);
    const boundConf = conf;
    const boundLog = log;
    const base: BaseContext = {
      env,
      rawEnv,
      conf: boundConf,
      rawConfig,
      log: boundLog,
      ipam: (opts) =>
        boundConf.ipam
          ? new IpamDelegate({
              type: boundConf.ipam.type,
              cniPath: env.path,
              env: rawEnv,
              stdin: rawConfig,
              cniVersion: boundConf.cniVersion,
              prevResult: boundConf.prevResult,
              timeoutMs: opts?.timeoutMs,
              log: boundLog,
            })
          : undefined,
    };
    const handlers = typeof options.handlers === 'function' ? await options.handlers() : options.handlers;

    let stdout = '';
    if (command === 'ADD' || command === 'DEL' || command === 'CHECK') {
      const cniArgs = args as CniArgs;
      const ctx: AttachmentContext = {
        ...base,
        command,
        args: cniArgs,
        identity: attachmentIdentity({
          containerId: env.containerId,
          ifname: env.ifname,
          network: boundConf.name,
          provider: boundConf.provider,
          podName: cniArgs.podName,
          podNamespace: cniArgs.podNamespace,
          podUid: cniArgs.podUid,
        }),
        requested: requestedAddressing(boundConf, cniArgs),
      };
      if (command === 'ADD') {
        const result = await handlers.add(ctx);
        stdout = `${JSON.stringify(formatResult(result, boundConf.cniVersion))}\n`;
      } else if (command === 'DEL') {
        await handlers.del(ctx);
      } else {
        await handlers.check(ctx);
      }
    } else {
      const ctx: NetworkContext = { ...base, command };
      if (command === 'GC') await handlers.gc(ctx);
      else await handlers.status(ctx);
    }
    log.info({ durationMs: elapsedMs(started) }, `${command} ok`);
    return { stdout, stderr: '', exitCode: 0 };
  } catch (err) {
    const cniErr = toCniError(err);
    if (!log) log = loggerFor(rawEnv, conf, { command });
    const fields = { code: cniErr.code, details: cniErr.details, durationMs: elapsedMs(started) };
    if (cniErr.code === CniErrorCode.Internal) log.error({ ...fields, err }, `${command} failed: ${cniErr.msg}`);
    else log.info(fields, `${command} failed: ${cniErr.msg}`);
    return errorOutcome(cniErr, isSupportedVersion(errorVersion) ? errorVersion : CURRENT_VERSION);
  } finally {
    log?.close();
  }
}

// ---------------------------------------------------------------------------------------------
// process wrapper

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Read all of fd 0 synchronously (no stream machinery on the fast path). */
export function readStdinSync(): Buffer {
  const chunks: Buffer[] = [];
  const buf = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, buf, 0, buf.length, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') {
        sleepMs(1);
        continue;
      }
      if (code === 'EOF' || code === 'EBADF') break;
      throw new CniError(CniErrorCode.IoFailure, 'error reading from stdin', (err as Error).message);
    }
    if (n === 0) break;
    chunks.push(Buffer.from(buf.subarray(0, n)));
  }
  return Buffer.concat(chunks);
}

/** VERSION reads stdin only when it is a pipe or a file: a terminal or an unset stdin must not block it. */
function stdinIsReadableData(): boolean {
  try {
    const st = fstatSync(0);
    return st.isFIFO() || st.isFile() || st.isSocket();
  } catch {
    return false;
  }
}

function writeAllSync(fd: number, text: string): void {
  const data = Buffer.from(text, 'utf8');
  let off = 0;
  while (off < data.length) {
    try {
      off += writeSync(fd, data, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        sleepMs(1);
        continue;
      }
      throw err;
    }
  }
}

/** The CNI plugin process: process.env + fd 0 in, fd 1/2 out. Returns the exit code (the caller exits). */
export async function cniMain(options: RunCniOptions): Promise<number> {
  let stdin: Buffer;
  try {
    stdin = process.env.CNI_COMMAND === 'VERSION' && !stdinIsReadableData() ? Buffer.alloc(0) : readStdinSync();
  } catch (err) {
    const outcome = errorOutcome(toCniError(err), CURRENT_VERSION);
    writeAllSync(1, outcome.stdout);
    return outcome.exitCode;
  }
  const outcome = await runCni(process.env, stdin, options);
  if (outcome.stderr) writeAllSync(2, outcome.stderr);
  if (outcome.stdout) writeAllSync(1, outcome.stdout);
  return outcome.exitCode;
}
