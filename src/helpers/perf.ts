/**
 * perf helpers — bpf_perf_event_output (25) as XDP (bpf_xdp_event_output) and TC
 * (bpf_skb_event_output) programs see it: flags = index (low 32 bits, BPF_F_CURRENT_CPU for the
 * running CPU) | ctx length << 32 (BPF_F_CTXLEN_MASK); other bits -EINVAL; a ctx length above the
 * packet -EFAULT. The sample is `data` followed by the first ctx-length bytes of the packet, sent
 * to the PERF_EVENT_ARRAY's sink (PerfEventArrayMap.records).
 */
import type { RunEnv } from '../vm/program.js';
import type { MapRegistry } from '../maps/registry.js';
import { PerfEventArrayMap } from '../maps/perf-event-array.js';
import { Errno } from '../maps/errno.js';
import { NotSupportedError } from '../errors.js';
import type { HelperServices } from './services.js';
import { argPtr, argU64, checkMem, helperFault, mapArg } from './args.js';
import type { HelperDef } from './table.js';

function perfEventOutput(registry: MapRegistry, services: HelperServices): (env: RunEnv) => number {
  return (env) => {
    const h = 'bpf_perf_event_output';
    const map = mapArg(registry, env, 2, h);
    if (!(map instanceof PerfEventArrayMap)) throw helperFault(h, `map ${map.spec.name} is not a perf event array`);
    const size = argU64(env, 5);
    if (size > 0xffff_ffffn) throw helperFault(h, `size ${size} is not a valid memory size`);
    const data = checkMem(env, argPtr(env, 4, h), Number(size), false, h, 'data').slice();
    const flagsLo = env.regs[6] >>> 0;
    const flagsHi = env.regs[7] >>> 0;
    if ((flagsHi & ~0xfffff) !== 0) return -Errno.EINVAL;
    const cpu = env.cpu ?? 0;
    const index = flagsLo === 0xffff_ffff ? cpu : flagsLo;
    let sample = data;
    if (flagsHi !== 0) {
      if (services.packetBytes === undefined) {
        throw new NotSupportedError('E_NOT_SUPPORTED', `${h}: BPF_F_CTXLEN_MASK (packet bytes in the sample) needs the hook's packet access`, {
          program: env.current?.program,
        });
      }
      const pkt = services.packetBytes(env, flagsHi);
      if (pkt === undefined) return -Errno.EFAULT;
      sample = new Uint8Array(data.length + pkt.length);
      sample.set(data);
      sample.set(pkt, data.length);
    }
    return map.output(index, cpu, sample);
  };
}

/** PERF_HELPERS declares bpf_perf_event_output. */
export const PERF_HELPERS: readonly HelperDef[] = [
  { id: 25, name: 'perf_event_output', gplOnly: true, make: ({ registry, services }) => perfEventOutput(registry, services) },
];
