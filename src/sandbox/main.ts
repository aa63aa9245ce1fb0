/**
 * `npm run sandbox`: ovnic end to end on a private OVS + OVN stack.
 *
 *  1. start ovsdb-server, ovs-vswitchd (own netns, userspace datapath), OVN NB/SB, northd, ovn-controller
 *  2. a dual-stack logical switch with two logical switch ports (addresses + port_security)
 *  3. two network namespaces as pods; the built `bin/ovnic` ADD for each, exactly as a runtime
 *     calls it (CNI_* environment, the network configuration on stdin, IPAM via Debian's `static`)
 *  4. CHECK, ping v4 and v6, a TCP exchange over v4 and v6, STATUS, DEL, DEL again, GC
 *  5. tear everything down (`--keep`: leave it running and print how to clean up)
 *
 * Exits non-zero on any failure.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OvnStack } from './stack.js';
import { OVNIC_BIN, REPO_ROOT, SYSTEM_CNI_DIR, runPlugin, type CniCall, type PluginRun } from './plugin.js';
import { PodNetns, TcpEchoServer, tcpExchange } from './pods.js';

interface PodSpec {
  name: string;
  mac: string;
  ipv4: string;
  ipv6: string;
}

const SUBNET_V4 = { prefix: '10.16.0', len: 24, gateway: '10.16.0.1' };
const SUBNET_V6 = { prefix: 'fd00:10:16::', len: 64, gateway: 'fd00:10:16::1' };
const NAMESPACE = 'default';
const NETWORK = 'ovnic-sandbox';
const TCP_PORT = 8080;

const PODS: PodSpec[] = [
  { name: 'pod1', mac: '0a:00:00:10:16:02', ipv4: `${SUBNET_V4.prefix}.2`, ipv6: `${SUBNET_V6.prefix}2` },
  { name: 'pod2', mac: '0a:00:00:10:16:03', ipv4: `${SUBNET_V4.prefix}.3`, ipv6: `${SUBNET_V6.prefix}3` },
];

const color = process.stdout.isTTY ? (code: number, s: string) => `\u001b[${code}m${s}\u001b[0m` : (_: number, s: string) => s;
const bold = (s: string): string => color(1, s);
const green = (s: string): string => color(32, s);
const red = (s: string): string => color(31, s);
const dim = (s: string): string => color(2, s);

let stepNo = 0;
function step(title: string): void {
  stepNo++;
  process.stdout.write(`\n${bold(`${stepNo}. ${title}`)}\n`);
}
function ok(text: string): void {
  process.stdout.write(`   ${green('✓')} ${text}\n`);
}
function info(text: string): void {
  process.stdout.write(`${text.split('\n').map((l) => `     ${dim(l)}`).join('\n')}\n`);
}

class SandboxFailure extends Error {}

function expect(condition: boolean, message: string): void {
  if (!condition) throw new SandboxFailure(message);
}

/** The plugin object of a conflist as a runtime hands it to the plugin: conflist name/version, runtimeConfig from capabilities. */
function networkConfig(stack: OvnStack, pod: PodSpec): Record<string, unknown> {
  return {
    cniVersion: '1.1.0',
    name: NETWORK,
    type: 'ovnic',
    bridge: 'br-int',
    ovsdb: stack.ovsdbRemote,
    ovsNetns: stack.netnsPath,
    mtu: 1400,
    provider: 'ovn',
    ovnWait: { enabled: true, timeoutMs: 10_000 },
    logFile: join(stack.dir, 'ovnic-cni.log'),
    logLevel: 'debug',
    ipam: {
      type: 'static',
      routes: [
        { dst: '0.0.0.0/0', gw: SUBNET_V4.gateway },
        { dst: '::/0', gw: SUBNET_V6.gateway },
      ],
    },
    // capabilities "ips" and "mac": what the orchestrator asked for, matching the logical switch port
    runtimeConfig: { ips: [`${pod.ipv4}/${SUBNET_V4.len}`, `${pod.ipv6}/${SUBNET_V6.len}`], mac: pod.mac },
  };
}

function cniCall(command: CniCall['command'], pod: PodSpec, netns: PodNetns | undefined): CniCall {
  return {
    command,
    containerId: `sandbox-${pod.name}-0123456789abcdef`,
    netns: netns?.path ?? '',
    ifname: 'eth0',
    args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${NAMESPACE};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=sandbox-${pod.name}`,
    path: [SYSTEM_CNI_DIR],
  };
}

function expectSuccess(run: PluginRun, what: string): void {
  if (run.exitCode !== 0) {
    throw new SandboxFailure(`${what} failed (exit ${run.exitCode}): ${run.stdout.trim() || '(no output)'}${run.stderr.trim() ? `\n${run.stderr.trim()}` : ''}`);
  }
}

function compactJson(value: unknown): string {
  return JSON.stringify(value, null, 2)
    .replace(/\{\s+("[^"]+": [^{}[\]]+?)\s+\}/g, (_m, inner: string) => `{ ${inner.replace(/\s*\n\s*/g, ' ')} }`)
    .replace(/\[\s+([^{}[\]]+?)\s+\]/g, (_m, inner: string) => `[${inner.replace(/\s*\n\s*/g, ' ')}]`);
}

async function main(argv: string[]): Promise<number> {
  const keep = argv.includes('--keep');
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('usage: npm run sandbox [-- --keep]\n  --keep  leave the stack, the pods and their NICs up and print how to clean up\n');
    return 0;
  }
  if (!existsSync(join(REPO_ROOT, 'dist', 'ovnic.cjs'))) {
    process.stderr.write(`${red('✗')} ${join(REPO_ROOT, 'dist', 'ovnic.cjs')} is missing: run \`npm run build\` first\n`);
    return 1;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write(`${red('✗')} the sandbox creates network namespaces and runs OVS: run it as root\n`);
    return 1;
  }

  let stack: OvnStack | undefined;
  const netns = new Map<string, PodNetns>();
  const servers: TcpEchoServer[] = [];
  let failed = false;
  const started = Date.now();
  try {
    step('Private OVS + OVN stack');
    stack = await OvnStack.start({ name: 'sbx', removeDir: !keep });
    ok(`ovsdb-server, ovs-vswitchd (netns ${stack.netns}, datapath netdev), OVN NB/SB, ovn-northd, ovn-controller (${stack.systemId})`);
    info(`dir ${stack.dir}`);

    step('OVN logical switch with two ports (created here: in a cluster the controller creates them)');
    const ls = 'ls-sandbox';
    await stack.nbctl('ls-add', ls, '--', 'set', 'Logical_Switch', ls, `other_config:subnet=${SUBNET_V4.prefix}.0/${SUBNET_V4.len}`, `other_config:ipv6_prefix=${SUBNET_V6.prefix}`);
    for (const pod of PODS) {
      const lsp = `${pod.name}.${NAMESPACE}`;
      const addresses = `${pod.mac} ${pod.ipv4} ${pod.ipv6}`;
      await stack.nbctl('lsp-add', ls, lsp, '--', 'lsp-set-addresses', lsp, addresses, '--', 'lsp-set-port-security', lsp, addresses);
      ok(`${lsp}: addresses and port_security "${addresses}"`);
    }

    step('CNI STATUS');
    const statusRun = await runPlugin(OVNIC_BIN, { command: 'STATUS', path: [SYSTEM_CNI_DIR] }, networkConfig(stack, PODS[0] as PodSpec));
    expectSuccess(statusRun, 'STATUS');
    ok(`ready (exit 0, ${statusRun.durationMs.toFixed(0)} ms)`);

    step('Pods: network namespaces, then CNI ADD with the built bin/ovnic');
    info(`network configuration (stdin) for ${PODS[0]?.name}:\n${compactJson(networkConfig(stack, PODS[0] as PodSpec))}`);
    const results = new Map<string, Record<string, unknown>>();
    for (const pod of PODS) {
      const ns = await PodNetns.create(`ovnic-sbx-${pod.name}`);
      netns.set(pod.name, ns);
      const call = cniCall('ADD', pod, ns);
      const run = await runPlugin(OVNIC_BIN, call, networkConfig(stack, pod));
      expectSuccess(run, `ADD ${pod.name}`);
      results.set(pod.name, run.json as Record<string, unknown>);
      ok(`${pod.name}: ADD in ${run.durationMs.toFixed(0)} ms  (CNI_NETNS=${ns.path} CNI_IFNAME=eth0 CNI_CONTAINERID=${call.containerId})`);
      info(compactJson(run.json));
    }

    step('What ADD built');
    for (const pod of PODS) {
      const ns = netns.get(pod.name) as PodNetns;
      const [eth0] = await ns.ip<Array<{ address: string; mtu: number; operstate: string; addr_info: Array<{ local: string; prefixlen: number; scope: string }> }>>('addr', 'show', 'dev', 'eth0');
      expect(eth0 !== undefined, `${pod.name}: eth0 missing`);
      const addrs = (eth0?.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
      expect(eth0?.address === pod.mac, `${pod.name}: eth0 MAC ${eth0?.address} is not ${pod.mac}`);
      expect(addrs.includes(`${pod.ipv4}/${SUBNET_V4.len}`) && addrs.includes(`${pod.ipv6}/${SUBNET_V6.len}`), `${pod.name}: addresses ${addrs.join(', ')}`);
      const routes4 = await ns.ip<Array<{ dst: string; gateway?: string }>>('route', 'show', 'default');
      const routes6 = await ns.ip<Array<{ dst: string; gateway?: string }>>('-6', 'route', 'show', 'default');
      ok(`${pod.name} eth0: ${eth0?.address}, mtu ${eth0?.mtu}, ${eth0?.operstate}, ${addrs.join(' ')}, default via ${routes4[0]?.gateway} / ${routes6[0]?.gateway}`);
    }
    const ports = await stack.vsctl('--format=csv', '--data=bare', '--no-headings', '--columns=name,ofport,external_ids', 'find', 'Interface', 'external_ids:vendor=ovnic');
    for (const line of ports.split('\n').filter(Boolean)) {
      const [name, ofport] = line.split(',');
      const ids = line.slice(line.indexOf('"') + 1, line.lastIndexOf('"'));
      ok(`OVS port ${name} on br-int (ofport ${ofport})`);
      info(ids.split(', ').join('\n'));
    }
    const bindings = await stack.nbctl('--format=csv', '--data=bare', '--no-headings', '--columns=name,up', 'list', 'Logical_Switch_Port');
    for (const line of bindings.split('\n').filter(Boolean)) {
      const [name, up] = line.split(',');
      expect(up === 'true', `LSP ${name} is not up`);
      ok(`LSP ${name} up=${up} (bound on ${stack.systemId})`);
    }

    step('CNI CHECK with the ADD result as prevResult');
    for (const pod of PODS) {
      const run = await runPlugin(OVNIC_BIN, cniCall('CHECK', pod, netns.get(pod.name)), { ...networkConfig(stack, pod), prevResult: results.get(pod.name) });
      expectSuccess(run, `CHECK ${pod.name}`);
      ok(`${pod.name}: link, MAC, MTU, addresses, routes, OVS port, iface-id and OVN binding as ADD left them`);
    }

    step('Traffic over OVN');
    const [a, b] = PODS as [PodSpec, PodSpec];
    const nsA = netns.get(a.name) as PodNetns;
    const nsB = netns.get(b.name) as PodNetns;
    for (const [from, fromNs, to] of [
      [a, nsA, b],
      [b, nsB, a],
    ] as const) {
      for (const address of [to.ipv4, to.ipv6]) {
        const received = await fromNs.ping(address, 3);
        expect(received > 0, `ping ${from.name} → ${to.name} ${address}: no reply`);
        ok(`ping ${from.name} → ${to.name} ${address}: ${received}/3 replies`);
      }
    }
    servers.push(await TcpEchoServer.start(nsB, TCP_PORT, b.name));
    for (const address of [b.ipv4, b.ipv6]) {
      const reply = await tcpExchange(nsA, address, TCP_PORT, `hello over tcp from ${a.name}`);
      expect(reply.includes(`HELLO OVER TCP FROM ${a.name.toUpperCase()}`), `TCP ${a.name} → ${b.name} ${address}: reply "${reply}"`);
      ok(`TCP ${a.name} → ${b.name} [${address}]:${TCP_PORT}: "${reply}"`);
    }
    for (const s of servers.splice(0)) await s.stop();

    if (keep) {
      printKeep(stack, netns);
      return 0;
    }

    step('CNI DEL (twice: DEL is idempotent), then GC');
    for (const pod of PODS) {
      const call = cniCall('DEL', pod, netns.get(pod.name));
      const first = await runPlugin(OVNIC_BIN, call, networkConfig(stack, pod));
      expectSuccess(first, `DEL ${pod.name}`);
      const again = await runPlugin(OVNIC_BIN, { ...call, netns: '' }, networkConfig(stack, pod));
      expectSuccess(again, `second DEL ${pod.name}`);
      const links = await (netns.get(pod.name) as PodNetns).ip<Array<{ ifname: string }>>('link', 'show');
      expect(!links.some((l) => l.ifname === 'eth0'), `${pod.name}: eth0 still exists after DEL`);
      ok(`${pod.name}: DEL in ${first.durationMs.toFixed(0)} ms, again without CNI_NETNS in ${again.durationMs.toFixed(0)} ms; eth0 gone`);
    }
    const gc = await runPlugin(OVNIC_BIN, { command: 'GC', path: [SYSTEM_CNI_DIR] }, { ...networkConfig(stack, a), 'cni.dev/valid-attachments': [] });
    expectSuccess(gc, 'GC');
    const left = await stack.vsctl('--data=bare', '--no-headings', '--columns=name', 'find', 'Interface', 'external_ids:vendor=ovnic');
    expect(left === '', `OVS ports left: ${left}`);
    const hostLinks = await stack.inNetns('ip', ['-o', 'link', 'show', 'type', 'veth']);
    expect(hostLinks === '', `host links left: ${hostLinks}`);
    ok('no ovnic port in OVS, no veth in the OVS netns');
    return 0;
  } catch (err) {
    failed = true;
    process.stdout.write(`\n${red('✗ sandbox failed:')} ${err instanceof SandboxFailure ? err.message : ((err as Error).stack ?? String(err))}\n`);
    if (stack) process.stdout.write(`${dim(`  logs: ${stack.logDir} and ${join(stack.dir, 'ovnic-cni.log')}`)}\n`);
    return 1;
  } finally {
    for (const s of servers) await s.stop();
    if (!keep || failed) {
      step('Tear down');
      for (const ns of netns.values()) await ns.remove();
      if (stack) await stack.stop();
      ok(`pods and stack removed${failed ? '' : ` (whole run ${((Date.now() - started) / 1000).toFixed(1)} s)`}`);
    }
  }
}

function printKeep(stack: OvnStack, netns: Map<string, PodNetns>): void {
  const pods = [...netns.values()];
  process.stdout.write(`\n${bold('Left running (--keep).')} Look around:\n`);
  process.stdout.write(`  export OVS_RUNDIR=${stack.runDir} OVN_NB_DB=${stack.nbRemote} OVN_SB_DB=${stack.sbRemote}\n`);
  process.stdout.write(`  ovs-vsctl --db=${stack.ovsdbRemote} show\n  ovn-nbctl show; ovn-sbctl show\n`);
  for (const ns of pods) process.stdout.write(`  ip -n ${ns.name} addr\n`);
  process.stdout.write(`\n${bold('Clean up:')}\n`);
  process.stdout.write(`  ovs-appctl -t ${join(stack.runDir, 'ovs-vswitchd.ctl')} exit --cleanup\n`);
  process.stdout.write(`  for p in ${stack.runDir}/*.pid; do kill "$(cat "$p")"; done\n`);
  process.stdout.write(`  ip netns del ${[stack.netns, ...pods.map((p) => p.name)].join(' && ip netns del ')}\n`);
  process.stdout.write(`  rm -rf ${stack.dir}\n`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
