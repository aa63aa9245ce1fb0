/** CNI spec versions ovnic speaks, and version comparisons. */

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_VERSIONS)[number];
export const CURRENT_VERSION: CniVersion = '1.1.0';

export function isSupportedVersion(value: unknown): value is CniVersion {
  return typeof value === 'string' && (SUPPORTED_VERSIONS as readonly string[]).includes(value);
}

const SEMVER_RE = /^(\d+)\.(\d+)\.(\d+)$/;

export function isSemver(value: unknown): value is string {
  return typeof value === 'string' && SEMVER_RE.test(value);
}

/** <0, 0, >0 like a comparator; both must be `x.y.z`. */
export function compareVersions(a: string, b: string): number {
  const pa = SEMVER_RE.exec(a);
  const pb = SEMVER_RE.exec(b);
  if (!pa || !pb) throw new Error(`not a semantic version: ${pa ? b : a}`);
  for (let i = 1; i <= 3; i++) {
    const d = Number(pa[i]) - Number(pb[i]);
    if (d !== 0) return d;
  }
  return 0;
}

export function versionAtLeast(version: string, minimum: string): boolean {
  return compareVersions(version, minimum) >= 0;
}

/** Result layout family: 0.3.0/0.3.1/0.4.0 share one (ips carry `version`), 1.0.0/1.1.0 the other. */
export function isLegacyResultVersion(version: string): boolean {
  return compareVersions(version, '1.0.0') < 0;
}

/** Highest version in both lists, or undefined. */
export function highestCommonVersion(ours: readonly string[], theirs: readonly string[]): string | undefined {
  const common = ours.filter((v) => theirs.includes(v) && isSemver(v));
  common.sort(compareVersions);
  return common.at(-1);
}
