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

/** Throws OvsdbNotLeaderError unless every relevant clustered database here is connected and leader. */
export async function findUsableServer(conn: RpcConnection, database: string | undefined, timeoutMs: number): Promise<void> {
  const dbs = await serverDatabases(conn, timeoutMs);
  if (database !== undefined && dbs.length > 0 && !dbs.some((d) => d.name === database)) {
    throw new OvsdbNotLeaderError(`${conn.remote} does not serve ${database}`);
  }
  for (const d of dbs) {
    if (d.model !== 'clustered' || (database !== undefined && d.name !== database)) continue;
    if (!d.connected) throw new OvsdbNotLeaderError(`${conn.remote}: ${d.name} is not connected to its cluster`);
    if (!d.leader) throw new OvsdbNotLeaderError(`${conn.remote}: not the ${d.name} leader`);
  }
}
