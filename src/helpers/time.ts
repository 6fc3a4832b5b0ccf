/**
 * time helpers — bpf_ktime_get_ns (5), bpf_jiffies64 (118), bpf_ktime_get_boot_ns (125),
 * bpf_ktime_get_coarse_ns (160). All read the injectable clocks of HelperServices.
 */
import type { HelperDef } from './table.js';

/** TIME_HELPERS declares the clock helpers. */
export const TIME_HELPERS: readonly HelperDef[] = [
  { id: 5, name: 'ktime_get_ns', gplOnly: false, make: ({ services }) => () => services.monotonicNs() },
  { id: 118, name: 'jiffies64', gplOnly: false, make: ({ services }) => () => services.jiffies64() },
  { id: 125, name: 'ktime_get_boot_ns', gplOnly: false, make: ({ services }) => () => services.bootNs() },
  { id: 160, name: 'ktime_get_coarse_ns', gplOnly: false, make: ({ services }) => () => services.coarseNs() },
];
