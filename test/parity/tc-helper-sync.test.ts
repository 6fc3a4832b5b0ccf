/**
 * Kernel parity of the __sk_buff sync around TC helper calls, on assembled programs: a program
 * writes the program-writable fields (narrowed ones with out-of-range values included), calls one
 * helper, reads every field back into cb[] and retval, writes an ignored queue_mapping and calls
 * the helper again. Helpers that cannot change what __sk_buff shows skip the full ctx rewrite
 * (src/helpers/skb.ts, onSkb); this checks that what the program sees is still what the kernel
 * shows, on every engine. Each case runs on a CHECKSUM_NONE and a CHECKSUM_COMPLETE skb.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { assemble } from '../../src/isa/asm/index.js';
import { Memory } from '../../src/vm/memory.js';
import { createRunEnv } from '../../src/vm/run.js';
import { engineNames, getEngine } from '../../src/vm/engines.js';
import { packetHelperMap } from '../../src/helpers/skb.js';
import { loopbackDatapath } from '../../src/hooks/datapath.js';
import { TestRunner, type TestRunInput } from '../../src/hooks/testrun.js';
import { ProgType } from '../../src/hooks/tc.js';
import { SkBuffField as F } from '../../src/hooks/skb.js';
import { hex, ipv4Udp, openKernel } from '../hooks/parity-harness.js';
import { KernelError } from '../../src/kernel/testrun.js';

const kernel = await openKernel();

/** BPF_F_TEST_SKB_CHECKSUM_COMPLETE: the test run gives the skb CHECKSUM_COMPLETE. */
const TEST_SKB_CHECKSUM_COMPLETE = 4;

function frame(payload: number): Uint8Array {
  const p = ipv4Udp(payload);
  const f = new Uint8Array(14 + p.length);
  f.set([0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00]);
  f.set(p, 14);
  return f;
}

/** store writes the value `v` to __sk_buff field `off` through r7 (BPF_ST into ctx is refused). */
function store(off: number, v: number): string {
  return `mov %r7, ${v}\nstxw [%r6+${off}], %r7`;
}

/**
 * syncProg wraps `call` (which may use r6 = ctx and the stack at r10-64..r10-1, and leaves the
 * helper's result in r0) between field writes and read-backs.
 */
function syncProg(call: string, qm: number): string {
  return `mov %r6, %r1
stdw [%r10-8], 0x0102
stdw [%r10-16], 0x0304
stdw [%r10-24], 0
stdw [%r10-32], 0
stdw [%r10-40], 0
stdw [%r10-48], 0
stdw [%r10-56], 0
stdw [%r10-64], 0
mov %r1, %r6
mov %r2, 0x5a5a
call 48
${store(F.tc_index, 0x12345)}
${store(F.tc_classid, 0xabcdef)}
${store(F.queue_mapping, qm)}
${store(F.mark, 0x11223344)}
${store(F.priority, 99)}
${call}
stxw [%r6+${F.cb}], %r0
ldxw %r7, [%r6+${F.tc_index}]
ldxw %r8, [%r6+${F.tc_classid}]
lsh %r8, 16
or %r7, %r8
stxw [%r6+${F.cb + 4}], %r7
ldxw %r7, [%r6+${F.queue_mapping}]
ldxw %r8, [%r6+${F.hash}]
lsh %r8, 8
xor %r7, %r8
stxw [%r6+${F.cb + 8}], %r7
ldxw %r7, [%r6+${F.data_end}]
ldxw %r8, [%r6+${F.data}]
sub %r7, %r8
ldxw %r8, [%r6+${F.len}]
lsh %r8, 16
or %r7, %r8
stxw [%r6+${F.cb + 12}], %r7
ldxw %r7, [%r6+${F.protocol}]
ldxw %r8, [%r6+${F.vlan_present}]
lsh %r8, 16
or %r7, %r8
stxw [%r6+${F.cb + 16}], %r7
${store(F.queue_mapping, 0xffff)}
${call}
ldxw %r0, [%r6+${F.queue_mapping}]
ldxw %r7, [%r6+${F.mark}]
xor %r0, %r7
exit`;
}

/** callOf builds a helper call with r1 = ctx and the given r2..r5 (a `fp-N` value is a stack pointer). */
function callOf(id: number, ...args: Array<number | string>): string {
  const set = args.map((a, i) => (typeof a === 'string' ? `mov %r${i + 2}, %r10\nadd %r${i + 2}, -${a.slice(3)}` : `mov %r${i + 2}, ${a}`));
  return ['mov %r1, %r6', ...set, `call ${id}`].join('\n');
}

const SYNC_CALLS: Array<[string, string]> = [
  ['skb_store_bytes', callOf(9, 30, 'fp-16', 4, 0)],
  ['skb_store_bytes invalidate_hash', callOf(9, 30, 'fp-16', 4, 2)],
  ['skb_store_bytes recompute_csum', callOf(9, 31, 'fp-16', 3, 1)],
  ['skb_load_bytes', callOf(26, 10, 'fp-64', 12)],
  ['skb_load_bytes_relative', callOf(68, 2, 'fp-64', 8, 1)],
  ['skb_pull_data', callOf(39, 20)],
  ['l3_csum_replace', callOf(10, 24, 0x1234, 0x5678, 2)],
  ['l4_csum_replace pseudo', callOf(11, 40, 0x0100000a, 0x0200000a, 0x14)],
  ['l4_csum_replace mangled_0', callOf(11, 40, 0x1234, 0x5678, 0x22)],
  ['csum_update', callOf(40, 0x1234)],
  ['csum_level inc', callOf(135, 1)],
  ['skb_ecn_set_ce', callOf(97)],
  ['check_mtu', callOf(163, 0, 'fp-8', 0, 0)],
  ['skb_get_tunnel_key', callOf(20, 'fp-64', 44, 0)],
  ['skb_vlan_push', callOf(18, 0x0081, 5)],
  ['skb_change_tail', callOf(38, 100, 0)],
  ['set_hash_invalid', callOf(41)],
];

interface Case {
  readonly label: string;
  readonly asm: string;
  readonly input: TestRunInput;
}

function cases(): Case[] {
  const out: Case[] = [];
  const zeroCtx = new Uint8Array(F.SIZE);
  for (const [name, call] of SYNC_CALLS) {
    for (const qm of [7, 0x10003]) {
      for (const flags of [0, TEST_SKB_CHECKSUM_COMPLETE]) {
        out.push({ label: `sync ${name} qm=${qm} flags=${flags}`, asm: syncProg(call, qm), input: { data: frame(40), ctxIn: zeroCtx, flags } });
      }
    }
  }
  return out;
}

function simRunner(asm: string, engine: string): TestRunner {
  const mem = new Memory();
  const env = createRunEnv(mem, { helpers: packetHelperMap() });
  const exec = getEngine(engine).prepare({ name: 'p', insns: assemble(asm) });
  return new TestRunner({ exec, progType: ProgType.SCHED_CLS, env, datapath: loopbackDatapath(() => undefined) });
}

describe.skipIf(kernel.k === undefined)(`TC helper ctx sync against BPF_PROG_TEST_RUN ${kernel.reason ?? ''}`, () => {
  afterAll(async () => {
    await kernel.k?.close();
  });

  it.each(engineNames())('matches the kernel on every case (engine %s)', async (engine) => {
    const k = kernel.k;
    if (k === undefined) throw new Error('unreachable: the kernel runner is open');
    const mismatches: string[] = [];
    for (const c of cases()) {
      const kprog = await k.loadRaw(assemble(c.asm), { progType: 'sched_cls', name: 'tc_sync' }).catch((e: unknown) => {
        throw new Error(`${c.label}: ${String(e)}\n${e instanceof KernelError ? String(e.fields.log ?? '').slice(-1500) : ''}`);
      });
      const kr = await k.run(kprog, { dataIn: c.input.data, ctxIn: c.input.ctxIn, flags: c.input.flags });
      await k.closeHandle(kprog.handle);
      // Twice on one runner: a second run finds every load site already executed (an engine
      // may cache a ctx access verdict per site), so the ctx must be right without a policy call.
      const runner = simRunner(c.asm, engine);
      for (const pass of [1, 2]) {
        const sr = runner.run(c.input);
        const cmp = (field: string, a: string, b: string): void => {
          if (a !== b) mismatches.push(`${c.label} (run ${pass}): ${field}: kernel ${a} / xdpsim ${b}`);
        };
        if (sr.fault !== undefined) cmp('fault', '-', sr.fault.message);
        cmp('err', String(kr.err), String(sr.err));
        cmp('retval', String(kr.retval >>> 0), String(sr.retval >>> 0));
        cmp('data_out', hex(kr.dataOut), hex(sr.dataOut));
        if (c.input.ctxIn !== undefined) cmp('ctx_out', hex(kr.ctxOut), hex(sr.ctxOut));
      }
    }
    expect(mismatches).toEqual([]);
  });
});
