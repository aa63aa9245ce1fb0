/** Names shared by the NicPort controller: API coordinates, finalizer, labels, NB external_ids keys. */

export const NICPORT = { group: 'kubevirt.chinaunicom.com', version: 'v1', plural: 'nicports', kind: 'NicPort' } as const;
export const NICPORT_API_VERSION = `${NICPORT.group}/${NICPORT.version}`;
export const SUBNET = { group: 'kubeovn.io', version: 'v1', plural: 'subnets', kind: 'Subnet' } as const;
export const KUBEOVN_IP = { group: 'kubeovn.io', version: 'v1', plural: 'ips', kind: 'IP' } as const;

/** Added before anything is allocated; removed once the LSP, the IP object and the reservation are gone. */
export const FINALIZER = 'kubevirt.chinaunicom.com/nicport';

/** The report's label: binds like spec.vmi when spec has no `vmi` field. */
export const VMI_TARGET_LABEL = 'vmi-target';

/** NB Logical_Switch_Port external_ids written by ovnic. */
export const EXT_VENDOR = 'vendor';
export const VENDOR = 'ovnic';
export const EXT_OWNER = 'ovnic-nicport';
export const EXT_LS = 'ls';

/** Metadata of the kubeovn.io IP objects ovnic publishes. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'ovnic';
/** `namespace/name` of the owning NicPort (an annotation: names may exceed a label value's 63 characters). */
export const OWNER_ANNOTATION = 'kubevirt.chinaunicom.com/nicport';
export const KUBEOVN_SUBNET_LABEL = 'ovn.kubernetes.io/subnet';
/**
 * podType of published IP objects. Kube-OVN's IP garbage collector keeps IP objects whose podType it
 * does not know (it deletes ""/VirtualMachine/StatefulSet ones whose pod/VM is missing, and with them
 * the LSP of the same name) — see docs/controller-design.md.
 */
export const IP_POD_TYPE = 'NicPort';

export const CONTROLLER_COMPONENT = 'ovnic-controller';
