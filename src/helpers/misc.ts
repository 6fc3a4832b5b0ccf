/**
 * misc helpers — bpf_get_smp_processor_id (8), bpf_get_numa_node_id (42),
 * bpf_probe_read_kernel (113) and bpf_probe_read_kernel_str (115).
 *
 * probe_read_kernel: xdpsim has no kernel memory. The kernel's helper copies from any readable
 * kernel address and, when the read faults, zeroes the destination and returns -EFAULT
 * (copy_from_kernel_nofault). Here an address inside the VM's own memory (the program's stack,
 * a map value, the packet — all kernel memory to a real program) is copied like the kernel
 * would; any other address reads as a faulting one: destination zeroed, -EFAULT, and a warning
 * in the log naming the program, so a user sees why the value is missing rather than a
 * plausible-looking zero.
 */
import type { RunEnv } from '../vm/program.js';
import { Errno } from '../maps/errno.js';
import { log } from '../log.js';
import { argPtr, argU32, checkMem } from './args.js';
import type { HelperDef } from './table.js';

const warnLog = log.child({ layer: 'helpers' });
const warned = new Set<string>();

function warnNoKernelMemory(env: RunEnv, helper: string, addr: number): void {
  const program = env.current?.program ?? '?';
  const key = `${program}:${helper}`;
  if (warned.has(key)) return;
  warned.add(key);
  warnLog.warn(
    { program, insn: env.current?.insn, addr },
    `${helper}: 0x${addr.toString(16)} is not VM memory; xdpsim has no kernel memory, the read fails with -EFAULT`,
  );
}

/** probeReadKernel is bpf_probe_read_kernel(dst, size, unsafe_ptr). */
function probeReadKernel(env: RunEnv): number {
  const h = 'bpf_probe_read_kernel';
  const size = argU32(env, 2);
  const dst = checkMem(env, argPtr(env, 1, h), size, true, h, 'dst');
  const srcAddr = env.regs[7] === 0 ? env.regs[6] >>> 0 : -1;
  if (srcAddr < 0 || !env.mem.isAccessible(srcAddr, size, false)) {
    if (srcAddr >= 0) warnNoKernelMemory(env, h, srcAddr);
    dst.fill(0);
    return -Errno.EFAULT;
  }
  dst.set(env.mem.copy(srcAddr, size));
  return 0;
}

/**
 * probeReadKernelStr is bpf_probe_read_kernel_str(dst, size, unsafe_ptr): copies up to size - 1
 * bytes and a NUL, stopping at the source's NUL; returns the length including the NUL, or
 * -EFAULT with dst[0] = 0 (strncpy_from_kernel_nofault).
 */
function probeReadKernelStr(env: RunEnv): number {
  const h = 'bpf_probe_read_kernel_str';
  const size = argU32(env, 2);
  const dst = checkMem(env, argPtr(env, 1, h), size, true, h, 'dst');
  if (size === 0) return 0;
  const srcAddr = env.regs[7] === 0 ? env.regs[6] >>> 0 : -1;
  const mem = env.mem;
  let n = 0;
  for (; n < size - 1; n++) {
    if (srcAddr < 0 || !mem.isAccessible(srcAddr + n, 1, false)) {
      if (srcAddr >= 0) warnNoKernelMemory(env, h, srcAddr + n);
      dst.fill(0);
      return -Errno.EFAULT;
    }
    const c = mem.u8[srcAddr + n];
    dst[n] = c;
    if (c === 0) return n + 1;
  }
  dst[n] = 0;
  return n + 1;
}

/** MISC_HELPERS declares the CPU/NUMA and probe-read helpers. */
export const MISC_HELPERS: readonly HelperDef[] = [
  { id: 8, name: 'get_smp_processor_id', gplOnly: false, make: () => (env) => env.cpu ?? 0 },
  { id: 42, name: 'get_numa_node_id', gplOnly: false, make: ({ services }) => () => services.numaNode() },
  { id: 113, name: 'probe_read_kernel', gplOnly: true, make: () => probeReadKernel },
  { id: 115, name: 'probe_read_kernel_str', gplOnly: true, make: () => probeReadKernelStr },
];
