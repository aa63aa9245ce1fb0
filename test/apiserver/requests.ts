/** The request log and injected failures: what tests assert on and how they break the server on purpose. */

export type Verb =
  | 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection' | 'discovery' | 'other';

export interface RequestRecord {
  method: string;
  /** Path without the query, e.g. /apis/kubevirt.chinaunicom.com/v1/namespaces/default/nicports/np1/status */
  path: string;
  query: URLSearchParams;
  contentType: string | undefined;
  verb: Verb;
  /** `pods`, `nicports.kubevirt.chinaunicom.com`, … for resource requests. */
  resource?: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  watch: boolean;
  /** HTTP status answered (0 while a watch is streaming or when the connection was reset). */
  status: number;
  /** Set when the answer came from failNext(). */
  injected: boolean;
  time: Date;
}

export interface RequestFilter {
  method?: string | string[];
  verb?: Verb | Verb[];
  /** Any name the server resolves (`pods`, `nicports`, `np`, `NicPort`, `leases.coordination.k8s.io`, …). */
  resource?: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  watch?: boolean;
  path?: string | RegExp;
}

export type RequestMatcher = RequestFilter | ((record: RequestRecord) => boolean);

/** An HTTP error answer ({ code } alone gets the upstream reason for that code), or a dropped connection. */
export type Failure = number | { code: number; reason?: string; message?: string; retryAfterSeconds?: number } | 'reset';

export const WRITE_VERBS: readonly Verb[] = ['create', 'update', 'patch', 'delete', 'deletecollection'];

function oneOf<T>(want: T | T[] | undefined, value: T): boolean {
  if (want === undefined) return true;
  return Array.isArray(want) ? want.includes(value) : want === value;
}

/** `resourceKey` is the filter's resource already resolved to its storage key. */
export function matchesRequest(filter: RequestFilter, resourceKey: string | undefined, record: RequestRecord): boolean {
  const methods = filter.method === undefined ? undefined : (Array.isArray(filter.method) ? filter.method : [filter.method]).map((m) => m.toUpperCase());
  if (!oneOf(methods, record.method)) return false;
  if (!oneOf(filter.verb, record.verb)) return false;
  if (resourceKey !== undefined && record.resource !== resourceKey) return false;
  if (filter.namespace !== undefined && record.namespace !== filter.namespace) return false;
  if (filter.name !== undefined && record.name !== filter.name) return false;
  if (filter.subresource !== undefined && record.subresource !== filter.subresource) return false;
  if (filter.watch !== undefined && record.watch !== filter.watch) return false;
  if (filter.path !== undefined) {
    if (typeof filter.path === 'string' ? !record.path.startsWith(filter.path) : !filter.path.test(record.path)) return false;
  }
  return true;
}
