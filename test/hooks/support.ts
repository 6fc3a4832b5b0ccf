/**
 * support — a small harness for the hooks' unit tests: assemble a program, prepare it on the
 * reference interpreter and wrap it in a TestRunner with the packet helpers.
 */
import { assemble } from '../../src/isa/asm/index.js';
import { Memory } from '../../src/vm/memory.js';
import { createRunEnv } from '../../src/vm/run.js';
import { getEngine } from '../../src/vm/engines.js';
import { packetHelperMap } from '../../src/helpers/skb.js';
import { TestRunner } from '../../src/hooks/testrun.js';

/** asmRunner assembles `text` as a program of `progType` and returns a TestRunner for it. */
export function asmRunner(text: string, progType: number, expectedAttachType?: number): TestRunner {
  const mem = new Memory();
  const exec = getEngine('interp').prepare({ name: 'asm', insns: assemble(text) });
  const env = createRunEnv(mem, { helpers: packetHelperMap() });
  return new TestRunner({ exec, progType, env, expectedAttachType });
}

/** le32 builds a little-endian byte array of u32 values. */
export function le32(...vals: number[]): Uint8Array {
  const b = new Uint8Array(vals.length * 4);
  const dv = new DataView(b.buffer);
  vals.forEach((v, i) => dv.setUint32(i * 4, v >>> 0, true));
  return b;
}
