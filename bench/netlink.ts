/**
 * Pod veth attach through the kernel, two ways, on the same setup:
 *  - netlink: `netlink` package + setns addon. Open sockets in the OVS and pod netns, create the
 *    veth with the peer born in the pod netns (name, MAC, MTU), host end up, lo + eth0 up, v4 and
 *    v6 (nodad) addresses, v4 and v6 default routes. Sequential awaits, and pipelined (all pod
 *    requests sent at once; the kernel handles them in order).
 *  - iproute2: the same steps as two `ip -batch -` processes (host netns, pod netns).
 * Every run is verified. Also: cold import of the netlink layer in a fresh process.
 * Run: npx tsx bench/netlink.ts [runs]. Final line: one JSON object.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Netns, Rtnl } from '../src/netlink/index.js';

const execFileAsync = promisify(execFile);
const RUNS = Number(process.argv[2] ?? 30);
const tag = randomBytes(3).toString('hex');
const hostNs = `nlb-h-${tag}`;
const podNs = `nlb-p-${tag}`;
const HOST_IF = `nlb${tag}`;
const MAC = '0a:00:00:00:00:02';

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const round = (x: number): number => Math.round(x * 100) / 100;

async function viaNetlink(pipelined: boolean): Promise<void> {
  const host = Rtnl.open(`/run/netns/${hostNs}`);
  const podNetns = Netns.open(`/run/netns/${podNs}`);
  const pod = Rtnl.open(podNetns);
  try {
    const hostEnd = await host.createVeth({ name: HOST_IF, up: true, peer: { name: 'eth0', netnsFd: podNetns.fd, mac: MAC, mtu: 1400 } });
    const eth0 = hostEnd.linkIndex!;
    const steps = [
      () => pod.setUp(1),
      () => pod.setUp(eth0),
      () => pod.addAddress(eth0, '10.16.0.2/24'),
      () => pod.addAddress(eth0, 'fd00:10:16::2/64', { nodad: true }),
      () => pod.addRoute({ dst: 'default', gateway: '10.16.0.1', index: eth0 }),
      () => pod.addRoute({ dst: 'default', gateway: 'fd00:10:16::1', index: eth0 }),
    ];
    if (pipelined) await Promise.all(steps.map((step) => step()));
    else for (const step of steps) await step();
  } finally {
    pod.close();
    podNetns.close();
    host.close();
  }
}

function ipBatch(ns: string, commands: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['-n', ns, '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ip -batch in ${ns}: ${stderr}`))));
    child.stdin.end(commands);
  });
}

async function viaIproute2(): Promise<void> {
  await ipBatch(hostNs, `link add ${HOST_IF} type veth peer name eth0 address ${MAC} mtu 1400 netns ${podNs}\nlink set ${HOST_IF} up\n`);
  await ipBatch(
    podNs,
    [
      'link set lo up',
      'link set eth0 up',
      'addr add 10.16.0.2/24 dev eth0',
      'addr add fd00:10:16::2/64 dev eth0 nodad',
      'route add default via 10.16.0.1 dev eth0',
      'route add ::/0 via fd00:10:16::1 dev eth0',
      '',
    ].join('\n'),
  );
}

async function verifyAndReset(): Promise<void> {
  const out = JSON.parse((await execFileAsync('ip', ['-j', '-n', podNs, 'addr', 'show', 'eth0'])).stdout) as {
    address: string;
    mtu: number;
    addr_info: { local: string }[];
  }[];
  const routes = (await execFileAsync('ip', ['-n', podNs, 'route', 'show', 'default'])).stdout +
    (await execFileAsync('ip', ['-n', podNs, '-6', 'route', 'show', 'default'])).stdout;
  const eth0 = out[0];
  const locals = eth0?.addr_info.map((a) => a.local) ?? [];
  if (eth0?.address !== MAC || eth0.mtu !== 1400 || !locals.includes('10.16.0.2') || !locals.includes('fd00:10:16::2') ||
    !routes.includes('via 10.16.0.1') || !routes.includes('via fd00:10:16::1')) {
    throw new Error(`attach not as expected: ${JSON.stringify(out)} ${routes}`);
  }
  await execFileAsync('ip', ['-n', hostNs, 'link', 'del', HOST_IF]);
}

async function measure(name: string, attach: () => Promise<void>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < RUNS + 3; i++) {
    const start = performance.now();
    await attach();
    const elapsed = performance.now() - start;
    await verifyAndReset();
    if (i >= 3) times.push(elapsed); // first runs warm up the JIT
  }
  const result = median(times);
  console.log(`${name.padEnd(28)} median ${round(result)} ms  (min ${round(Math.min(...times))}, max ${round(Math.max(...times))}, n=${RUNS})`);
  return result;
}

/**
 * What the bundled netlink layer adds to a fresh plain-node process (module load, addon load,
 * first socket): time since process start at the end of the script, minus the same for an
 * empty script. Static imports load before any code runs, hence the process-start clock.
 */
async function coldImportMs(): Promise<number> {
  const esbuild = await import('esbuild');
  const root = new URL('..', import.meta.url).pathname;
  const entry = join(root, 'build', `bench-netlink-entry-${tag}.mjs`);
  const bundle = join(root, 'build', `bench-netlink-${tag}.mjs`);
  const empty = join(root, 'build', `bench-netlink-empty-${tag}.mjs`);
  writeFileSync(entry, `import { Rtnl, Netns } from '../src/netlink/index.ts';
const r = Rtnl.open(); r.close(); Netns.current().close();
console.log(performance.now());
`);
  writeFileSync(empty, 'console.log(performance.now());\n');
  try {
    await esbuild.build({ entryPoints: [entry], outfile: bundle, bundle: true, platform: 'node', format: 'esm', target: 'node20', external: ['netlink'], logLevel: 'warning' });
    const sample = (file: string): number => Number(execFileSync(process.execPath, [file]).toString().trim());
    const loaded = median(Array.from({ length: 9 }, () => sample(bundle)));
    const baseline = median(Array.from({ length: 9 }, () => sample(empty)));
    return loaded - baseline;
  } finally {
    rmSync(entry, { force: true });
    rmSync(empty, { force: true });
    rmSync(bundle, { force: true });
  }
}

execFileSync('ip', ['netns', 'add', hostNs]);
execFileSync('ip', ['netns', 'add', podNs]);
try {
  const netlinkSeq = await measure('netlink (sequential)', () => viaNetlink(false));
  const netlinkPipe = await measure('netlink (pipelined)', () => viaNetlink(true));
  const iproute2 = await measure('iproute2 (2 x ip -batch)', viaIproute2);
  const coldImport = await coldImportMs();
  console.log(`cold start of the bundled netlink layer (import + addon + first socket, fresh node): ${round(coldImport)} ms`);
  console.log(
    JSON.stringify({
      runs: RUNS,
      netlinkSequentialMs: round(netlinkSeq),
      netlinkPipelinedMs: round(netlinkPipe),
      iproute2BatchMs: round(iproute2),
      iproute2OverNetlink: round(iproute2 / netlinkPipe),
      coldImportMs: round(coldImport),
    }),
  );
} finally {
  execFileSync('ip', ['netns', 'del', podNs]);
  execFileSync('ip', ['netns', 'del', hostNs]);
}
