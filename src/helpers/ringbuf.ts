/**
 * ringbuf helpers — bpf_ringbuf_output (130), bpf_ringbuf_reserve (131), bpf_ringbuf_submit
 * (132), bpf_ringbuf_discard (133), bpf_ringbuf_query (134) over RingbufMap
 * (kernel/bpf/ringbuf.c).
 *
 * reserve with nonzero flags returns NULL; output refuses flags other than BPF_RB_NO_WAKEUP /
 * BPF_RB_FORCE_WAKEUP (-EINVAL) and returns -EAGAIN when the record does not fit. submit and
 * discard take a sample pointer: one not reserved (or already committed) is what the verifier's
 * reference tracking forbids, so it faults. Wakeup flags have no effect (no waiting consumer).
 */
import type { RunEnv } from '../vm/program.js';
import type { MapRegistry } from '../maps/registry.js';
import { RingbufMap } from '../maps/ringbuf.js';
import { Errno } from '../maps/errno.js';
import { argFlags, argPtr, argU32, argU64, checkMem, helperFault, mapArg } from './args.js';
import type { HelperDef } from './table.js';

/** BPF_RB_NO_WAKEUP / BPF_RB_FORCE_WAKEUP. */
export const BPF_RB_NO_WAKEUP = 1;
export const BPF_RB_FORCE_WAKEUP = 2;

function ringbufArg(registry: MapRegistry, env: RunEnv, helper: string): RingbufMap {
  const map = mapArg(registry, env, 1, helper);
  if (!(map instanceof RingbufMap)) throw helperFault(helper, `map ${map.spec.name} is not a ring buffer`);
  return map;
}

function commit(registry: MapRegistry, discard: boolean): (env: RunEnv) => number {
  const h = discard ? 'bpf_ringbuf_discard' : 'bpf_ringbuf_submit';
  return (env) => {
    const sample = argPtr(env, 1, h);
    for (const m of registry.allMaps()) {
      if (m instanceof RingbufMap && m.isReserved(sample)) {
        m.commit(sample, discard);
        return 0;
      }
    }
    throw helperFault(h, `0x${sample.toString(16)} is not a reserved ring buffer sample`);
  };
}

/** RINGBUF_HELPERS declares the ring buffer helpers. */
export const RINGBUF_HELPERS: readonly HelperDef[] = [
  {
    id: 130,
    name: 'ringbuf_output',
    gplOnly: false,
    make: ({ registry }) => (env) => {
      const h = 'bpf_ringbuf_output';
      const rb = ringbufArg(registry, env, h);
      const size = argU64(env, 3);
      if (size > 0xffff_ffffn) throw helperFault(h, `size ${size} is not a valid memory size`);
      const data = checkMem(env, argPtr(env, 2, h), Number(size), false, h, 'data');
      const flags = argFlags(env, 4);
      if (!Number.isFinite(flags) || (flags & ~(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP)) !== 0) return -Errno.EINVAL;
      return rb.output(data);
    },
  },
  {
    id: 131,
    name: 'ringbuf_reserve',
    gplOnly: false,
    make: ({ registry }) => (env) => {
      const rb = ringbufArg(registry, env, 'bpf_ringbuf_reserve');
      if (argFlags(env, 3) !== 0) return 0;
      if (env.regs[5] !== 0) return 0;
      return rb.reserve(argU32(env, 2));
    },
  },
  { id: 132, name: 'ringbuf_submit', gplOnly: false, make: ({ registry }) => commit(registry, false) },
  { id: 133, name: 'ringbuf_discard', gplOnly: false, make: ({ registry }) => commit(registry, true) },
  {
    id: 134,
    name: 'ringbuf_query',
    gplOnly: false,
    make: ({ registry }) => (env) => {
      const rb = ringbufArg(registry, env, 'bpf_ringbuf_query');
      const flags = argFlags(env, 2);
      return BigInt(Number.isFinite(flags) ? rb.query(flags) : 0);
    },
  },
];
