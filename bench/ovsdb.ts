/**
 * 1,000 logical switch port creates, each added to one switch, on a real OVN_Northbound
 * ovsdb-server, four ways: ovnic one transaction per port, ovnic one batched transaction,
 * `ovn-nbctl lsp-add` one process per port, and one `ovsdb-client transact` batch.
 * Each way gets a fresh server. The last line printed is one JSON object.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { NB, OvsdbClient, namedUuid, nbOps, type Operation } from '../src/ovs/index.js';
import { NB_SCHEMA, OvsdbServers, type ServerProcess } from '../test/harness/ovsdb-server.js';

const run = promisify(execFile);
const PORTS = Number(process.env.OVNIC_BENCH_PORTS ?? 1000);
const SWITCH = 'ls0';
const portName = (i: number): string => `p${i}`;

async function withServer<T>(servers: OvsdbServers, tag: string, fn: (srv: ServerProcess) => Promise<T>): Promise<T> {
  const srv = await servers.standalone(tag, NB_SCHEMA);
  const client = await OvsdbClient.connect(srv.remote, { reconnect: false });
  try {
    await client.transact(NB, [nbOps.insert('Logical_Switch', { name: SWITCH })]);
    const result = await fn(srv);
    // Every way must have produced the same database content.
    const [[ls]] = await client.transact(NB, [nbOps.select('Logical_Switch', [['name', '==', SWITCH]], ['ports'])]);
    const [lsps] = await client.transact(NB, [nbOps.select('Logical_Switch_Port', [], ['name'])]);
    if (ls?.ports.length !== PORTS || lsps.length !== PORTS) {
      throw new Error(`${tag}: expected ${PORTS} ports on ${SWITCH}, found ${ls?.ports.length} (rows ${lsps.length})`);
    }
    return result;
  } finally {
    client.close();
    await servers.kill(srv);
  }
}

async function time(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function batchOps(): Operation<unknown>[] {
  const ops: Operation<unknown>[] = [];
  for (let i = 0; i < PORTS; i++) ops.push(nbOps.insert('Logical_Switch_Port', { name: portName(i) }, `p${i}`));
  ops.push(nbOps.mutate('Logical_Switch', [['name', '==', SWITCH]], [['ports', 'insert', ops.map((_, i) => namedUuid(`p${i}`))]]));
  return ops;
}

async function main(): Promise<void> {
  const servers = new OvsdbServers('bench');
  try {
    const ovnicPerPortMs = await withServer(servers, 'perport', async (srv) => {
      const client = await OvsdbClient.connect(srv.remote, { reconnect: false });
      try {
        return await time(async () => {
          for (let i = 0; i < PORTS; i++) {
            await client.transact(NB, [
              nbOps.insert('Logical_Switch_Port', { name: portName(i) }, 'lsp'),
              nbOps.mutate('Logical_Switch', [['name', '==', SWITCH]], [['ports', 'insert', [namedUuid('lsp')]]]),
            ]);
          }
        });
      } finally {
        client.close();
      }
    });
    console.log(`ovnic, one transaction per port: ${ovnicPerPortMs.toFixed(1)} ms (${((ovnicPerPortMs * 1000) / PORTS).toFixed(0)} µs/port)`);

    const ovnicBatchedMs = await withServer(servers, 'batched', async (srv) => {
      const client = await OvsdbClient.connect(srv.remote, { reconnect: false });
      try {
        // Building the operations is part of the cost.
        return await time(async () => {
          await client.transact(NB, batchOps());
        });
      } finally {
        client.close();
      }
    });
    console.log(`ovnic, one batched transaction: ${ovnicBatchedMs.toFixed(1)} ms`);

    const nbctlLoopMs = await withServer(servers, 'nbctl', async (srv) =>
      time(async () => {
        for (let i = 0; i < PORTS; i++) await run('ovn-nbctl', [`--db=${srv.remote}`, 'lsp-add', SWITCH, portName(i)]);
      }));
    console.log(`ovn-nbctl, one process per port: ${nbctlLoopMs.toFixed(1)} ms (${(nbctlLoopMs / PORTS).toFixed(2)} ms/port)`);

    const ovsdbClientBatchMs = await withServer(servers, 'client', async (srv) => {
      const txn = JSON.stringify(['OVN_Northbound', ...batchOps().map((o) => o.wire)]);
      return time(async () => {
        await run('ovsdb-client', ['transact', srv.remote, txn], { maxBuffer: 64 * 1024 * 1024 });
      });
    });
    console.log(`ovsdb-client transact, one batch: ${ovsdbClientBatchMs.toFixed(1)} ms`);

    // What a CNI invocation pays: connect, one transaction, close (no get_schema).
    const cniSamples: number[] = [];
    const cniServer = await servers.standalone('cni', NB_SCHEMA);
    try {
      const setup = await OvsdbClient.connect(cniServer.remote, { reconnect: false });
      await setup.transact(NB, [nbOps.insert('Logical_Switch', { name: SWITCH })]);
      setup.close();
      for (let i = 0; i < 200; i++) {
        cniSamples.push(await time(async () => {
          const c = await OvsdbClient.connect(cniServer.remote, { reconnect: false });
          try {
            await c.transact(NB, [
              nbOps.insert('Logical_Switch_Port', { name: portName(i) }, 'lsp'),
              nbOps.mutate('Logical_Switch', [['name', '==', SWITCH]], [['ports', 'insert', [namedUuid('lsp')]]]),
            ]);
          } finally {
            c.close();
          }
        }));
      }
    } finally {
      await servers.kill(cniServer);
    }
    cniSamples.sort((a, b) => a - b);
    const connectTransactMedianMs = cniSamples[Math.floor(cniSamples.length / 2)] as number;
    console.log(`ovnic connect + one transaction + close (CNI path): median ${connectTransactMedianMs.toFixed(3)} ms`);

    const perPortSpeedup = nbctlLoopMs / ovnicPerPortMs;
    const batchedVsOvsdbClient = ovnicBatchedMs / ovsdbClientBatchMs;
    console.log(`ovnic per-port is ${perPortSpeedup.toFixed(1)}x faster than the ovn-nbctl loop (target >= 20x)`);
    console.log(`ovnic batched takes ${batchedVsOvsdbClient.toFixed(2)}x the ovsdb-client batch time (target <= 1.5x)`);
    console.log(JSON.stringify({
      ports: PORTS,
      ovnicPerPortMs: round(ovnicPerPortMs),
      ovnicBatchedMs: round(ovnicBatchedMs),
      nbctlLoopMs: round(nbctlLoopMs),
      ovsdbClientBatchMs: round(ovsdbClientBatchMs),
      connectTransactMedianMs: round(connectTransactMedianMs),
      perPortSpeedupVsNbctl: round(perPortSpeedup),
      batchedRatioVsOvsdbClient: round(batchedVsOvsdbClient),
      perPortTargetMet: perPortSpeedup >= 20,
      batchedTargetMet: batchedVsOvsdbClient <= 1.5,
    }));
  } finally {
    await servers.stop();
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

await main();
