/**
 * The __sk_buff settle of the per-packet TC helpers (SkBuff.settleCtx, onSkb in
 * src/helpers/skb.ts) after a helper wrote into the ctx outside the access plan: the narrowed
 * fields (tc_index, tc_classid, queue_mapping) must end up as the full sync (pullCtx + pushCtx,
 * as around bpf_skb_vlan_push) leaves them, on every engine. The kernel's verifier refuses ctx as
 * a helper's memory argument, so there is no kernel run to compare with.
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/isa/asm/index.js';
import { Memory } from '../../src/vm/memory.js';
import { createRunEnv } from '../../src/vm/run.js';
import { engineNames, getEngine } from '../../src/vm/engines.js';
import { packetHelperMap } from '../../src/helpers/skb.js';
import { loopbackDatapath } from '../../src/hooks/datapath.js';
import { TestRunner } from '../../src/hooks/testrun.js';
import { ProgType } from '../../src/hooks/tc.js';
import { SkBuffField as F } from '../../src/hooks/skb.js';

function runner(asm: string, engine: string): TestRunner {
  const env = createRunEnv(new Memory(), { helpers: packetHelperMap() });
  const exec = getEngine(engine).prepare({ name: 'p', insns: assemble(asm) });
  return new TestRunner({ exec, progType: ProgType.SCHED_CLS, env, datapath: loopbackDatapath(() => undefined) });
}

/** A frame whose first four bytes are 0xff (broadcast destination), so loading them gives 0xffffffff. */
function frame(): Uint8Array {
  const f = new Uint8Array(64);
  f.fill(0xff, 0, 6);
  f[12] = 0x08;
  return f;
}

/**
 * prog stores tc_index 0x12345 and queue_mapping 5 through the plan, then bpf_skb_load_bytes
 * writes frame bytes 0..3 (0xffffffff) straight into queue_mapping, tc_index and tc_classid, then
 * `between` runs (a helper), and the program returns queue_mapping | tc_index << 8 (tc_classid is
 * compared through ctx_out). Each load_bytes call settles the write of the one before it.
 */
function prog(between: string): string {
  const load = (off: number): string => `mov %r1, %r6\nmov %r2, 0\nmov %r3, %r6\nadd %r3, ${off}\nmov %r4, 4\ncall 26`;
  return `mov %r6, %r1
mov %r7, 0x12345
stxw [%r6+${F.tc_index}], %r7
mov %r7, 5
stxw [%r6+${F.queue_mapping}], %r7
${load(F.queue_mapping)}
${load(F.tc_index)}
${load(F.tc_classid)}
${between}
ldxw %r0, [%r6+${F.queue_mapping}]
ldxw %r7, [%r6+${F.tc_index}]
lsh %r7, 8
or %r0, %r7
exit`;
}

/** A stack buffer for the helpers below. */
const STACK = 'stdw [%r10-8], 0';
/** bpf_l3_csum_replace with an unknown size: -EINVAL, after the settle. */
const L3_BAD = `${STACK}\nmov %r1, %r6\nmov %r2, 24\nmov %r3, 0\nmov %r4, 0\nmov %r5, 3\ncall 10`;
/** bpf_skb_load_bytes into the stack. */
const LOAD_STACK = `${STACK}\nmov %r1, %r6\nmov %r2, 0\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 4\ncall 26`;
/** bpf_skb_store_bytes from the stack (header bytes, no flags). */
const STORE = `${STACK}\nmov %r1, %r6\nmov %r2, 20\nmov %r3, %r10\nadd %r3, -8\nmov %r4, 4\nmov %r5, 0\ncall 9`;
/** bpf_skb_vlan_push: a helper that syncs the whole ctx (pullCtx + pushCtx), the reference. */
const FULL_SYNC = 'mov %r1, %r6\nmov %r2, 0x0081\nmov %r3, 5\ncall 18';

describe('__sk_buff settle after a helper wrote into the ctx', () => {
  it.each(engineNames())('gives what the full sync gives (engine %s)', (engine) => {
    const want = runner(prog(FULL_SYNC), engine).run({ data: frame() });
    expect(want.fault).toBeUndefined();
    // queue_mapping: the raw 0xffffffff is an ignored store, so the 5 stored before stays;
    // tc_index and tc_classid keep their low 16 bits.
    expect(want.retval).toBe(5 | (0xffff << 8));
    for (const between of [L3_BAD, LOAD_STACK, STORE]) {
      const r = runner(prog(between), engine);
      for (const pass of [1, 2]) {
        const got = r.run({ data: frame() });
        expect(got.fault, `pass ${pass}`).toBeUndefined();
        expect(got.retval, `pass ${pass}`).toBe(want.retval);
        expect(got.ctxOut, `pass ${pass}`).toEqual(want.ctxOut);
      }
    }
  });

});
