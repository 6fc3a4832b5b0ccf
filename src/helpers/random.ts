/**
 * random helpers — bpf_get_prandom_u32 (7), from the injectable HelperServices.randomU32.
 * The result is a u32 zero-extended into r0, as the kernel's (u32) return.
 */
import type { HelperDef } from './table.js';

/** RANDOM_HELPERS declares bpf_get_prandom_u32. */
export const RANDOM_HELPERS: readonly HelperDef[] = [
  { id: 7, name: 'get_prandom_u32', gplOnly: false, make: ({ services }) => () => BigInt(services.randomU32() >>> 0) },
];
