/**
 * deploy/install-cni.sh (the ovnic-node init container) against temporary directories standing in
 * for the host's /opt/cni/bin and /etc/cni/net.d, and the Dockerfile's references to the repository.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../src/sandbox/plugin.js';

const SCRIPT = join(REPO_ROOT, 'deploy', 'install-cni.sh');

describe('deploy/install-cni.sh', () => {
  let dir: string;
  let env: Record<string, string>;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ovnic-install-cni-'));
    mkdirSync(join(dir, 'src-conf'));
    // the conflist exactly as the DaemonSet's ConfigMap provides it
    const configMaps = parseAllDocuments(readFileSync(join(REPO_ROOT, 'deploy', 'config.yaml'), 'utf8')).map((d) => d.toJS() as { metadata: { name: string }; data: Record<string, string> });
    const cni = configMaps.find((c) => c.metadata.name === 'ovnic-cni-config')!;
    for (const [name, text] of Object.entries(cni.data)) writeFileSync(join(dir, 'src-conf', name), text);
    const exe = join(dir, 'ovnic-sea');
    writeFileSync(exe, '#!/bin/sh\n[ "$1" = version ] && echo \'{"ovnic":"test"}\'\n');
    chmodSync(exe, 0o644); // the script must set the mode itself
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      OVNIC_CNI_EXECUTABLE: exe,
      CNI_BIN_DIR: join(dir, 'host', 'opt', 'cni', 'bin'),
      OVNIC_CNI_CONF_SRC: join(dir, 'src-conf'),
      CNI_CONF_DIR: join(dir, 'host', 'etc', 'cni', 'net.d'),
    };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const install = (extra: Record<string, string> = {}) => spawnSync('sh', [SCRIPT], { env: { ...env, ...extra }, encoding: 'utf8' });

  it('installs the executable (mode 0755) and the conflist, and runs the installed file', () => {
    const r = install();
    expect(r.status, r.stderr).toBe(0);
    const bin = join(env.CNI_BIN_DIR!, 'ovnic');
    expect(statSync(bin).mode & 0o777).toBe(0o755);
    expect(r.stderr).toContain(`installed ${bin}: {"ovnic":"test"}`);
    const conf = readFileSync(join(env.CNI_CONF_DIR!, '90-ovnic.conflist'), 'utf8');
    expect((JSON.parse(conf) as { plugins: Array<{ type: string }> }).plugins[0]!.type).toBe('ovnic');
    // nothing but the two files; no temp file left behind
    expect(readdirSync(env.CNI_BIN_DIR!)).toEqual(['ovnic']);
    expect(readdirSync(env.CNI_CONF_DIR!)).toEqual(['90-ovnic.conflist']);
  });

  it('replaces an existing installation by rename (a running plugin keeps its file)', () => {
    expect(install().status).toBe(0);
    const bin = join(env.CNI_BIN_DIR!, 'ovnic');
    const before = statSync(bin).ino;
    writeFileSync(env.OVNIC_CNI_EXECUTABLE!, '#!/bin/sh\necho \'{"ovnic":"v2"}\'\n');
    const r = install();
    expect(r.status, r.stderr).toBe(0);
    expect(statSync(bin).ino).not.toBe(before);
    expect(r.stderr).toContain('{"ovnic":"v2"}');
  });

  it('INSTALL_CNI_CONFLIST=false installs only the executable; another value is refused', () => {
    const r = install({ INSTALL_CNI_CONFLIST: 'false' });
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(env.CNI_CONF_DIR!, '90-ovnic.conflist'))).toBe(false);
    const bad = install({ INSTALL_CNI_CONFLIST: 'yes' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('INSTALL_CNI_CONFLIST must be true or false');
  });

  it('fails when the executable is missing or does not run on this host', () => {
    const missing = install({ OVNIC_CNI_EXECUTABLE: join(dir, 'nope') });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('not found');
    writeFileSync(env.OVNIC_CNI_EXECUTABLE!, '#!/bin/sh\nexit 3\n');
    const broken = install();
    expect(broken.status).not.toBe(0);
    expect(broken.stderr).toContain('does not run');
  });
});

describe('deploy/Dockerfile', () => {
  const dockerfile = readFileSync(join(REPO_ROOT, 'deploy', 'Dockerfile'), 'utf8');

  it('copies only paths that exist in the repository or the build stage', () => {
    for (const [, src] of dockerfile.matchAll(/^COPY (?!--from)(\S+) /gm)) {
      if (src === '.') continue;
      expect(existsSync(join(REPO_ROOT, src!)), src).toBe(true);
    }
    for (const [, src] of dockerfile.matchAll(/^COPY --from=build \/src\/(\S+) /gm)) {
      const top = src!.split('/')[0]!;
      // produced by npm ci / npm run build / build-sea, or part of the repository
      expect(['node_modules', 'dist', 'build'].includes(top) || existsSync(join(REPO_ROOT, src!)), src).toBe(true);
    }
    expect(dockerfile).toContain('node scripts/build-sea.mjs');
    expect(existsSync(join(REPO_ROOT, 'scripts', 'build-sea.mjs'))).toBe(true);
  });

  it('installs the script the DaemonSet runs and the path it installs from', () => {
    const ds = readFileSync(join(REPO_ROOT, 'deploy', 'node-daemonset.yaml'), 'utf8');
    expect(ds).toContain('command: [/usr/local/bin/ovnic-install-cni]');
    expect(dockerfile).toContain('deploy/install-cni.sh /usr/local/bin/ovnic-install-cni');
    expect(readFileSync(SCRIPT, 'utf8')).toContain('/opt/ovnic/dist/ovnic-sea');
    expect(dockerfile).toMatch(/^WORKDIR \/opt\/ovnic$/m);
  });
});
