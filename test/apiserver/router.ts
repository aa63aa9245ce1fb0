/** Maps a request path onto discovery documents or a resource request, like kube-apiserver's routes. */

export type Route =
  | { type: 'root' }
  | { type: 'coreVersions' }
  | { type: 'groupList' }
  | { type: 'group'; group: string }
  | { type: 'resourceList'; group: string; version: string }
  | { type: 'version' }
  | { type: 'health' }
  | {
    type: 'resource';
    group: string;
    version: string;
    plural: string;
    namespace?: string;
    name?: string;
    subresource?: string;
    /** Legacy /watch/ path prefix. */
    watchPrefix: boolean;
  }
  | { type: 'unknown' };

function resourceRoute(group: string, version: string, rest: string[]): Route {
  let watchPrefix = false;
  if (rest[0] === 'watch') {
    watchPrefix = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  // namespaces/<ns>/<resource>… is a namespaced request, except namespaces/<name>/{status,finalize}.
  if (rest[0] === 'namespaces' && rest.length >= 3 && !(rest.length === 3 && (rest[2] === 'status' || rest[2] === 'finalize'))) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest.length === 0 || rest.length > 3) return { type: 'unknown' };
  const route: Route = { type: 'resource', group, version, plural: rest[0] as string, watchPrefix };
  if (namespace !== undefined) route.namespace = namespace;
  if (rest[1] !== undefined) route.name = rest[1];
  if (rest[2] !== undefined) route.subresource = rest[2];
  return route;
}

export function route(pathname: string): Route {
  let segments: string[];
  try {
    segments = pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
  } catch {
    return { type: 'unknown' };
  }
  const [first, second, third] = segments;
  if (first === undefined) return { type: 'root' };
  if (segments.length === 1 && (first === 'healthz' || first === 'readyz' || first === 'livez')) return { type: 'health' };
  if (segments.length === 1 && first === 'version') return { type: 'version' };
  if (first === 'api') {
    if (second === undefined) return { type: 'coreVersions' };
    if (segments.length === 2) return { type: 'resourceList', group: '', version: second };
    return resourceRoute('', second, segments.slice(2));
  }
  if (first === 'apis') {
    if (second === undefined) return { type: 'groupList' };
    if (third === undefined) return { type: 'group', group: second };
    if (segments.length === 3) return { type: 'resourceList', group: second, version: third };
    return resourceRoute(second, third, segments.slice(3));
  }
  return { type: 'unknown' };
}
