/**
 * The node daemon's metrics (GET /metrics on its HTTP port).
 */
import { Registry, type Counter, type Gauge, type Histogram } from '../util/metrics.js';

/** CNI operations take from milliseconds (DEL) to many seconds (an ADD waiting for the controller). */
const OP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60];

export interface DaemonMetrics {
  registry: Registry;
  /** labels: command, nic_type */
  opDuration: Histogram;
  /** labels: outcome (ready, timeout, aborted, error) */
  annotationWait: Histogram;
  /** labels: command, code */
  errors: Counter;
  /** labels: command */
  inFlight: Gauge;
  /** labels: remote; 1 connected, 0 not */
  ovsdbConnected: Gauge;
  podsSynced: Gauge;
  podInformerRestarts: Counter;
  /** labels: result (removed, failed) */
  gcPorts: Counter;
  gcRuns: Counter;
}

export function createDaemonMetrics(registry = new Registry()): DaemonMetrics {
  return {
    registry,
    opDuration: registry.histogram('ovnic_cni_op_duration_seconds', 'CNI operations served by the node daemon, by command and NIC type', OP_BUCKETS),
    annotationWait: registry.histogram('ovnic_cni_annotation_wait_seconds', "Time ADD waited for the pod's provider annotations, by outcome", OP_BUCKETS),
    errors: registry.counter('ovnic_cni_errors_total', 'CNI operations that failed, by command and CNI error code'),
    inFlight: registry.gauge('ovnic_cni_requests_in_flight', 'CNI operations being served, by command'),
    ovsdbConnected: registry.gauge('ovnic_ovsdb_connected', 'OVSDB connection state of the node daemon (1 connected, 0 not), by remote'),
    podsSynced: registry.gauge('ovnic_daemon_pods_synced', '1 once the pod cache holds a full list and watches, else 0'),
    podInformerRestarts: registry.counter('ovnic_daemon_pod_informer_restarts_total', 'Restarts of the pod list+watch after an error'),
    gcPorts: registry.counter('ovnic_daemon_gc_ports_total', 'OVS ports of deleted pods handled by the periodic GC, by result'),
    gcRuns: registry.counter('ovnic_daemon_gc_runs_total', 'Periodic GC passes, by outcome (done, skipped)'),
  };
}
