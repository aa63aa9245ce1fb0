/**
 * Network configuration keys only one NIC type reads, taken from the raw configuration (the
 * common parser ignores keys it does not know). Invalid values are code 7, reported before
 * anything is created.
 */
import { isAbsolute } from 'node:path';
import { invalidConfig } from '../cni/errors.js';
import type { OvnicNetConf } from '../cni/config.js';
import { DEFAULT_TAP_DEVICE_DIR } from './tap-node.js';

/** `tapDeviceDir` (nicType internal-macvtap): where per-attachment tap device nodes are made. */
export function tapDeviceDir(conf: Pick<OvnicNetConf, 'raw'>): string {
  const value = conf.raw.tapDeviceDir;
  if (value === undefined || value === null || value === '') return DEFAULT_TAP_DEVICE_DIR;
  if (typeof value !== 'string' || !isAbsolute(value)) {
    throw invalidConfig('invalid network config: "tapDeviceDir" must be an absolute path', `tapDeviceDir=${JSON.stringify(value)}`);
  }
  return value;
}
