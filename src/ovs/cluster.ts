/**
 * Raft awareness through the `_Server` database: a server is usable for a clustered database
 * only while it is connected to the cluster and is its leader (followers forward writes but
 * can serve stale reads, and lose leadership checks). Standalone databases are always usable.
 */
import { OvsdbError, OvsdbRpcError } from './errors.js';
import { SERVER } from './models/index.js';
import type { Srv } from './models/index.js';
import { checkResults, opsFor } from './ops.js';
import type { RpcConnection } from './rpc.js';

const server = opsFor(SERVER);

export class OvsdbNotLeaderError extends OvsdbError {
  override name = 'OvsdbNotLeaderError';
}

/** Rows of `_Server.Database` describing the databases this server hosts. */
export async function serverDatabases(conn: RpcConnection, timeoutMs: number): Promise<Srv.Database[]> {
  const op = server.select('Database', []);
  try {
    const results = await conn.request<unknown[]>('transact', ['_Server', op.wire], timeoutMs);
    checkResults('_Server', [op.wire], results);
    return op.decode(results[0] as Record<string, unknown>);
  } catch (err) {
    // Servers older than OVS 2.9 have no _Server database: treat them as standalone.
    if (err instanceof OvsdbRpcError && /unknown database/i.test(JSON.stringify(err.error))) return [];
    throw err;
  }
}

/**
 * Why this server must not be used for `database` (every clustered database when undefined),
 * given its `_Server.Database` rows; undefined when it is usable.
 */
export function leadershipProblem(rows: readonly Srv.Database[], database: string | undefined): string | undefined {
  if (database !== undefined && rows.length > 0 && !rows.some((d) => d.name === database)) {
    return `does not serve ${database}`;
  }
  for (const d of rows) {
    if (d.model !== 'clustered' || (database !== undefined && d.name !== database)) continue;
    if (!d.connected) return `${d.name} is not connected to its cluster`;
    if (!d.leader) return `not the ${d.name} leader`;
  }
  return undefined;
}
