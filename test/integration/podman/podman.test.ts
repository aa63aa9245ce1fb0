/**
 * podman (CNI backend, libcni 1.1.2) runs two containers on an `ovnic` network; one reaches the
 * other over OVN (busybox httpd + wget through br-int and a logical switch); `podman rm -f` runs
 * ovnic's DEL, which must leave no OVS port, no host link and no address allocation behind.
 *
 * Runs twice: with bin/ovnic + the CommonJS bundle (node on the host), and with the single
 * executable of scripts/build-sea.mjs (which unpacks its native parts into /var/lib/ovnic/sea).
 *
 * Opt-in: `bash scripts/setup-podman.sh && npm run build && npm run test:podman`.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvnStack } from '../../../src/sandbox/stack.js';
import { PodmanEnv, buildPlugin, podmanProblem, uniqueSuffix, type PluginBuild, type PluginKind } from '../../harness/podman.js';

const enabled = process.env.OVNIC_TEST_PODMAN === '1';
const problem = enabled ? podmanProblem() : undefined;

// Addresses live only in the containers' netns and on the private OVN logical switch.
const SUBNET = '10.213.7.0/24';
const GATEWAY = '10.213.7.1';
const IP_A = '10.213.7.10';
const IP_B = '10.213.7.11';
const MAC_A = '02:42:0a:d5:07:0a';
/** B gets no --mac-address: ovnic derives 0a:58:<IPv4 bytes> (src/nic/plan.ts generateMac). */
const MAC_B = '0a:58:0a:d5:07:0b';

describe.skipIf(!enabled).each<[PluginKind]>([['bundle'], ['sea']])('podman runs containers on an ovnic network (OVN), plugin: %s', (kind) => {
  const sfx = uniqueSuffix();
  const network = `ovnic-pm-${sfx}`;
  const switchName = `ls-pm-${sfx}`;
  const nameA = `pm-a-${sfx}`;
  const nameB = `pm-b-${sfx}`;
  const token = `hello-over-ovn-${sfx}`;
  let stack: OvnStack | undefined;
  let podman: PodmanEnv | undefined;
  let plugin: PluginBuild | undefined;
  const ids: Record<string, string> = {};
  const figures: Record<string, number> = {};

  beforeAll(async () => {
    if (problem) throw new Error(`podman test prerequisites missing: ${problem}`);
    stack = await OvnStack.start({ name: 'pm' });
    plugin = await buildPlugin(kind);
    podman = PodmanEnv.create([plugin.binDir]);
    // podman passes the container name as K8S_POD_NAME and no namespace: iface-id "<name>.default"
    await stack.nbctl('ls-add', switchName);
    await stack.nbctl('lsp-add', switchName, `${nameA}.default`, '--', 'lsp-set-addresses', `${nameA}.default`, `${MAC_A} ${IP_A}`);
    await stack.nbctl('lsp-add', switchName, `${nameB}.default`, '--', 'lsp-set-addresses', `${nameB}.default`, `${MAC_B} ${IP_B}`);
    podman.writeConflist({
      cniVersion: '1.0.0',
      name: network,
      plugins: [
        {
          type: 'ovnic',
          bridge: 'br-int',
          ovsdb: stack.ovsdbRemote,
          ovsNetns: stack.netnsPath,
          nicType: 'veth',
          mtu: 1400,
          ovnWait: { enabled: true, timeoutMs: 30_000 },
          logFile: join(podman.dir, 'ovnic.log'),
          logLevel: 'debug',
          ipam: {
            type: 'host-local',
            dataDir: join(podman.dir, 'ipam'),
            ranges: [[{ subnet: SUBNET, gateway: GATEWAY }]],
          },
        },
      ],
    });
  });

  afterAll(async () => {
    try {
      await podman?.podman(['rm', '-f', '-t', '0', nameA, nameB]);
      if (podman && existsSync(join(podman.dir, 'ovnic.log')) && process.env.OVNIC_TEST_PODMAN_LOG === '1') {
        process.stderr.write(readFileSync(join(podman.dir, 'ovnic.log'), 'utf8'));
      }
    } finally {
      await podman?.close();
      plugin?.remove();
      await stack?.stop();
    }
    if (Object.keys(figures).length > 0) process.stdout.write(`podman figures, plugin ${kind} (ms): ${JSON.stringify(figures)}\n`);
  });

  it('podman sees the network (VERSION of the ovnic conflist succeeds)', async () => {
    const r = await podman!.podmanOk(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']);
    expect(r.stdout.split('\n')).toContain(`${network} ovnic`);
  });

  it('a container gets its address and MAC on eth0 and a port bound in OVN', async () => {
    const a = await podman!.runDetached({
      name: nameA,
      network,
      ip: IP_A,
      mac: MAC_A,
      command: ['sh', '-c', `mkdir -p /www && echo ${token} > /www/index.html && exec httpd -f -p 80 -h /www`],
    });
    ids[nameA] = a.id;
    figures.runA = Math.round(a.durationMs);
    const b = await podman!.runDetached({ name: nameB, network, ip: IP_B });
    ids[nameB] = b.id;
    figures.runB = Math.round(b.durationMs);

    const addrA = await podman!.exec(nameA, ['ip', '-o', 'addr', 'show', 'dev', 'eth0']);
    expect(addrA.stdout).toContain(`inet ${IP_A}/24`);
    const linkA = await podman!.exec(nameA, ['cat', '/sys/class/net/eth0/address', '/sys/class/net/eth0/mtu']);
    expect(linkA.stdout.split('\n').slice(0, 2)).toEqual([MAC_A, '1400']);
    const linkB = await podman!.exec(nameB, ['cat', '/sys/class/net/eth0/address']);
    expect(linkB.stdout.trim()).toBe(MAC_B);

    const inspect = await podman!.podmanOk(['inspect', '--format', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, nameB]);
    expect(inspect.stdout.trim()).toBe(IP_B);

    for (const [name, lsp] of [[nameA, `${nameA}.default`], [nameB, `${nameB}.default`]] as const) {
      const rows = await stack!.vsctl('--bare', '--columns=name,external_ids', 'find', 'Interface', `external_ids:iface-id="${lsp}"`);
      expect(rows).toContain('vendor=ovnic');
      expect(rows).toContain(`ovnic_container_id=${ids[name]}`);
      expect(rows).toContain(`ovnic_network=${network}`);
      expect(rows).toContain('ovn-installed=true');
      expect(rows).toContain(`${ids[name]!.slice(0, 12)}_h`);
    }
    const chassis = (await stack!.sbctl('--bare', '--columns=chassis', 'find', 'Port_Binding', `logical_port="${nameA}.default"`)).trim();
    expect(chassis).not.toBe('');
  });

  it('one container reaches the other over OVN', async () => {
    // busybox 1.35 (static) wget crashes with -T: bound it with timeout instead
    const fetchPage = ['sh', '-c', `rm -f /tmp/page; timeout 5 wget -q -O /tmp/page http://${IP_A}/ && cat /tmp/page`];
    const start = performance.now();
    let r = await podman!.exec(nameB, fetchPage);
    // httpd may still be starting: retry for a few seconds
    for (let attempt = 0; attempt < 20 && r.code !== 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      r = await podman!.exec(nameB, fetchPage);
    }
    figures.http = Math.round(performance.now() - start);
    if (r.stdout.trim() !== token) {
      const diag = await Promise.all([podman!.exec(nameA, ['sh', '-c', 'ps; netstat -ltn; ip neigh']), podman!.exec(nameB, ['sh', '-c', 'ip neigh; ip route'])]);
      expect.fail(`wget from ${nameB} exited ${r.code} (${r.stderr.trim()}); ${nameA}: ${diag[0].stdout}; ${nameB}: ${diag[1].stdout}`);
    }
    // B's MAC was learnt by A over the logical switch (ARP in both directions)
    const neigh = await podman!.exec(nameA, ['ip', 'neigh', 'show', IP_B]);
    expect(neigh.stdout).toContain(MAC_B);
  });

  it('podman rm -f runs DEL: no OVS port, host link or address allocation is left', async () => {
    for (const name of [nameA, nameB]) {
      const r = await podman!.remove(name);
      figures[`rm_${name === nameA ? 'A' : 'B'}`] = Math.round(r.durationMs);
    }
    const ports = await stack!.vsctl('--bare', '--columns=name', 'find', 'Interface', `external_ids:ovnic_network=${network}`);
    expect(ports.trim()).toBe('');
    const links = await stack!.inNetns('ip', ['-o', 'link', 'show']);
    for (const id of Object.values(ids)) expect(links).not.toContain(`${id.slice(0, 12)}_h`);
    const ipamDir = join(podman!.dir, 'ipam', network);
    const leases = existsSync(ipamDir) ? readdirSync(ipamDir).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)) : [];
    expect(leases).toEqual([]);
    const bindings = (await stack!.sbctl('--bare', '--columns=chassis', 'find', 'Port_Binding', `logical_port="${nameA}.default"`)).trim();
    expect(bindings).toBe('');
  });
});
