/**
 * Dual-stack IPAM on Kube-OVN subnets: address math, Subnet parsing, per-subnet allocators with
 * atomic dual-stack allocation, a cluster-wide MAC pool, and a registry with rebuild.
 * Behaviour and Kube-OVN compatibility notes: src/ipam/README.md.
 */
export * from './errors.js';
export * from './ip.js';
export * from './subnet-spec.js';
export * from './range-set.js';
export * from './family-allocator.js';
export * from './pending.js';
export * from './owner.js';
export * from './subnet-allocator.js';
export * from './mac.js';
export * from './registry.js';
export * from './sources.js';
