/** Kubernetes API server test double: start one with startApiServer(), point @kubernetes/client-node at api.kubeConfig(). */
export { ApiServer, startApiServer, type ApiServerOptions } from './server.js';
export type { Failure, RequestFilter, RequestMatcher, RequestRecord, Verb } from './requests.js';
export type { KubeObject, ObjectMeta, ResourceDefinition, ResourceSpec, SchemaProps } from './types.js';
export type { StatusBody } from './status.js';
export { clusterCrds } from './crds.js';
export { caughtStatus, statusOf, type CaughtStatus } from './client-errors.js';
