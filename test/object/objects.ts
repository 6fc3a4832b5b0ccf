/**
 * objects — the committed BPF objects the object tests iterate over, as paths relative to
 * programs/: every top-level object plus those in programs/pinning/ (kept apart because loading
 * them pins maps under /sys/fs/bpf). programs/bench/ and programs/hooks/ belong to other suites.
 */
import { readdirSync } from 'node:fs';

/** OBJECTS lists e.g. "xdp_fw.o" and "pinning/xdp_pinned.o". */
export const OBJECTS: readonly string[] = [
  ...readdirSync('programs').filter((f) => f.endsWith('.o')),
  ...readdirSync('programs/pinning')
    .filter((f) => f.endsWith('.o'))
    .map((f) => `pinning/${f}`),
].sort();

/** baseName is the object's file name without directory and .o ("pinning/xdp_pinned.o" → "xdp_pinned"). */
export function baseName(obj: string): string {
  return obj.replace(/^.*\//, '').replace(/\.o$/, '');
}
