/**
 * objects — the committed BPF objects the object tests iterate over, as paths relative to
 * programs/: every top-level object, those in programs/pinning/ (kept apart because loading them
 * pins maps under /sys/fs/bpf) and programs/nobtf/ (built without -g: no BTF, no line info).
 * programs/unsupported/ (CO-RE, kfunc, __ksym) is listed apart in UNSUPPORTED_OBJECTS.
 * programs/bench/ and programs/hooks/ belong to other suites.
 */
import { readdirSync } from 'node:fs';

/** OBJECTS lists e.g. "xdp_fw.o" and "pinning/xdp_pinned.o". */
export const OBJECTS: readonly string[] = [
  ...readdirSync('programs').filter((f) => f.endsWith('.o')),
  ...['pinning', 'nobtf'].flatMap((dir) =>
    readdirSync(`programs/${dir}`)
      .filter((f) => f.endsWith('.o'))
      .map((f) => `${dir}/${f}`),
  ),
].sort();

/** UNSUPPORTED_OBJECTS use features xdpsim refuses by name: they parse, list and disassemble, but do not load. */
export const UNSUPPORTED_OBJECTS: readonly string[] = readdirSync('programs/unsupported')
  .filter((f) => f.endsWith('.o'))
  .map((f) => `unsupported/${f}`)
  .sort();

/** goldenName is the golden listing's file name ("pinning/xdp_pinned.o" → "pinning_xdp_pinned.objdump"). */
export function goldenName(obj: string): string {
  return `${obj.replace(/\.o$/, '').replace(/\//g, '_')}.objdump`;
}

/** hasBtf says whether the object was built with -g. */
export function hasBtf(obj: string): boolean {
  return !obj.startsWith('nobtf/');
}

/** baseName is the object's file name without directory and .o ("pinning/xdp_pinned.o" → "xdp_pinned"). */
export function baseName(obj: string): string {
  return obj.replace(/^.*\//, '').replace(/\.o$/, '');
}
