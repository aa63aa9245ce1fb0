/** The controller's Prometheus metrics. */
import type { Counter, Gauge, Histogram, Registry } from '../util/metrics.js';
import type { IpamRegistry } from '../ipam/index.js';

export interface ControllerMetrics {
  reconcileSeconds: Histogram;
  reconcileErrors: Counter;
  queueDepth: Gauge;
  nbTransactions: Counter;
  kubeWrites: Counter;
  ipamUsed: Gauge;
  ipamFree: Gauge;
  informerRestarts: Counter;
  externalConflicts: Counter;
  nicports: Gauge;
}

export function controllerMetrics(r: Registry): ControllerMetrics {
  return {
    reconcileSeconds: r.histogram('ovnic_controller_reconcile_seconds', 'Time to reconcile one NicPort, by result (ok, requeue, error).'),
    reconcileErrors: r.counter('ovnic_controller_reconcile_errors_total', 'Reconciles that failed and were retried, by reason.'),
    queueDepth: r.gauge('ovnic_controller_queue_depth', 'NicPorts waiting in the work queue.'),
    nbTransactions: r.counter('ovnic_controller_nb_transactions_total', 'OVN NB write transactions sent, by result.'),
    kubeWrites: r.counter('ovnic_controller_kube_writes_total', 'Kubernetes writes, by kind (finalizer, status, ip-create, ip-patch, ip-delete) and result.'),
    ipamUsed: r.gauge('ovnic_controller_ipam_used', 'Addresses reserved in IPAM, by subnet and family.'),
    ipamFree: r.gauge('ovnic_controller_ipam_free', 'Addresses still assignable, by subnet and family.'),
    informerRestarts: r.counter('ovnic_controller_informer_restarts_total', 'List/watch restarts after errors, by resource.'),
    externalConflicts: r.counter('ovnic_controller_external_conflicts_total', 'Addresses held outside ovnic that IPAM could not reserve (already held).'),
    nicports: r.gauge('ovnic_controller_nicports', 'NicPorts in the cache.'),
  };
}

/** Refreshes the IPAM gauges (called before each scrape and after resyncs). */
export function updateIpamGauges(m: ControllerMetrics, ipam: IpamRegistry): void {
  m.ipamUsed.reset();
  m.ipamFree.reset();
  for (const s of ipam.stats()) {
    const labels = { subnet: s.subnet, family: s.family === 4 ? 'ipv4' : 'ipv6' };
    m.ipamUsed.set(labels, s.used);
    m.ipamFree.set(labels, Number(s.free));
  }
}
