/**
 * Context read-back: SCHED_CLS programs store tc_index, tc_classid and queue_mapping (STX with 32-
 * and 64-bit register values, ST with immediates, around the u16 and NO_QUEUE_MAPPING limits) and
 * read them back — whole, narrow at every sub-offset, sign-extending — writing what they read into
 * the packet. Every engine must agree with the kernel (BPF_PROG_TEST_RUN) on err, retval,
 * data_out and ctx_out; without the kernel, the engines must agree with each other and with a
 * model of the kernel's conversion (bpf_convert_ctx_access stores, convert_ctx_accesses narrow
 * loads). Same run twice per engine: a site's second execution goes through its cached plan.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { KernelError, KernelTestRunner, hexOf } from '../../src/kernel/testrun.js';
import { makeInsn, type Insn } from '../../src/isa/insn.js';
import { Memory } from '../../src/vm/memory.js';
import { createRunEnv } from '../../src/vm/run.js';
import { engineNames, getEngine } from '../../src/vm/engines.js';
import { MapRegistry } from '../../src/maps/registry.js';
import { makeHelperTable } from '../../src/helpers/table.js';
import { deterministicServices } from '../../src/helpers/services.js';
import { TestRunner, type TestRunOutput } from '../../src/hooks/testrun.js';
import { ProgType } from '../../src/hooks/tc.js';
import { BpfSockField as S, SkBuffField as F } from '../../src/hooks/skb.js';

const avail = await KernelTestRunner.open();
const skipReason = avail.ok ? '' : ` (skipped: ${avail.reason})`;

/** Store is one store into the context: STX of a 64-bit value [lo, hi], or ST of an immediate. */
type Store = { readonly off: number; readonly stx: readonly [number, number] } | { readonly off: number; readonly st: number };
/** Read is one load from the context: offset, size, sign-extending. */
type Read = readonly [off: number, size: 1 | 2 | 4, sx?: boolean];

const SIZE_CODE = { 1: 0x10, 2: 0x08, 4: 0x00 } as const;

/** program stores, then reads each field into the packet at 8 * i (as a u64); returns TC_ACT_OK. */
function program(stores: readonly Store[], reads: readonly Read[]): Insn[] {
  const p: Insn[] = [
    makeInsn(0xbf, 6, 1, 0, 0), // r6 = ctx
    makeInsn(0x61, 7, 1, F.data, 0), // r7 = data
    makeInsn(0x61, 3, 1, F.data_end, 0), // r3 = data_end
    makeInsn(0xbf, 2, 7, 0, 0),
    makeInsn(0x07, 2, 0, 0, 8 * reads.length),
    makeInsn(0x3d, 3, 2, 2, 0), // if data_end >= data + n goto +2
    makeInsn(0xb7, 0, 0, 0, 2), // TC_ACT_SHOT
    makeInsn(0x95),
  ];
  for (const s of stores) {
    if ('st' in s) p.push(makeInsn(0x62, 6, 0, s.off, s.st));
    else {
      p.push(makeInsn(0x18, 2, 0, 0, s.stx[0]), makeInsn(0, 0, 0, 0, s.stx[1]));
      p.push(makeInsn(0x63, 6, 2, s.off, 0));
    }
  }
  reads.forEach(([off, size, sx], i) => {
    p.push(makeInsn((sx === true ? 0x81 : 0x61) | SIZE_CODE[size], 2, 6, off, 0));
    p.push(makeInsn(0x7b, 7, 2, 8 * i, 0));
  });
  p.push(makeInsn(0xb7, 0, 0, 0, 0), makeInsn(0x95));
  return p;
}

/**
 * sockProgram reads bpf_sock fields through __sk_buff->sk (a test run's dummy socket) into the
 * packet at 8 * i; returns 0xdead without a socket.
 */
function sockProgram(reads: readonly Read[]): Insn[] {
  const p = program([], []).slice(0, 8);
  p.push(makeInsn(0x79, 8, 6, F.sk, 0)); // r8 = skb->sk
  p.push(makeInsn(0x55, 8, 0, 2, 0)); // if r8 != 0 goto +2
  p.push(makeInsn(0xb7, 0, 0, 0, 0xdead), makeInsn(0x95));
  p[4] = makeInsn(0x07, 2, 0, 0, 8 * reads.length);
  reads.forEach(([off, size, sx], i) => {
    p.push(makeInsn((sx === true ? 0x81 : 0x61) | SIZE_CODE[size], 2, 8, off, 0));
    p.push(makeInsn(0x7b, 7, 2, 8 * i, 0));
  });
  p.push(makeInsn(0xb7, 0, 0, 0, 0), makeInsn(0x95));
  return p;
}

/** SOCK_READS: bpf_sock fields whose conversion is not a plain read (rx_queue_mapping) and neighbours. */
const SOCK_READS: ReadonlyArray<readonly Read[]> = [
  [[S.rx_queue_mapping, 4], [S.rx_queue_mapping, 2], [S.rx_queue_mapping, 1], [S.rx_queue_mapping, 4, true], [S.rx_queue_mapping, 2, true], [S.rx_queue_mapping, 1, true], [S.state, 2], [S.family, 1]],
  [[S.state, 4], [S.state, 1, true], [S.family, 2], [S.src_port, 2], [S.dst_port, 2], [S.dst_port + 1, 1], [S.dst_port, 4], [S.src_ip4 + 2, 2]],
];

/**
 * REFUSED: context accesses the verifier refuses although the field is readable or writable —
 * ldsx of a packet pointer field (bpf_skb_is_valid_access / xdp_is_valid_access: info->is_ldsx)
 * and atomics into ctx (check_atomic) — next to the accepted neighbour that shows the field is
 * otherwise fine: [label, hook, access instruction, accepted].
 */
const REFUSED: ReadonlyArray<readonly [string, 'xdp' | 'sched_cls', Insn, boolean]> = [
  ['xdp ldsxw data', 'xdp', makeInsn(0x81, 2, 1, 0, 0), false],
  ['xdp ldsxw data_end', 'xdp', makeInsn(0x81, 2, 1, 4, 0), false],
  ['xdp ldsxw ingress_ifindex', 'xdp', makeInsn(0x81, 2, 1, 12, 0), true],
  ['tc ldsxw data', 'sched_cls', makeInsn(0x81, 2, 1, F.data, 0), false],
  ['tc ldsxw data_meta', 'sched_cls', makeInsn(0x81, 2, 1, F.data_meta, 0), false],
  ['tc ldsxw mark', 'sched_cls', makeInsn(0x81, 2, 1, F.mark, 0), true],
  ['tc atomic add mark', 'sched_cls', makeInsn(0xc3, 1, 2, F.mark, 0), false],
  ['tc stxw mark', 'sched_cls', makeInsn(0x63, 1, 2, F.mark, 0), true],
  ['tc stw mark', 'sched_cls', makeInsn(0x62, 1, 0, F.mark, 7), true],
  ['tc atomic add cb[0]', 'sched_cls', makeInsn(0xc3, 1, 2, F.cb, 0), false],
];

const READS: ReadonlyArray<readonly Read[]> = [
  [[F.tc_index + 2, 2], [F.tc_index + 1, 1], [F.tc_index + 3, 1], [F.tc_classid + 2, 2], [F.tc_classid + 1, 1], [F.queue_mapping + 2, 2], [F.queue_mapping + 1, 1], [F.tc_index + 2, 2, true]],
  [[F.tc_index, 4], [F.tc_classid, 4], [F.queue_mapping, 4], [F.tc_index, 2], [F.queue_mapping, 1], [F.tc_classid, 2, true], [F.queue_mapping, 4, true], [F.tc_classid + 2, 2, true]],
];

/** CASES: [label, stores]; each runs with both read sets. */
const CASES: ReadonlyArray<readonly [string, readonly Store[]]> = [
  ['stx wide values', [{ off: F.tc_index, stx: [0x12345, 0] }, { off: F.tc_classid, stx: [0xabcdef, 0] }, { off: F.queue_mapping, stx: [3, 0] }]],
  ['stx u16 limits', [{ off: F.tc_index, stx: [0xffff, 0] }, { off: F.tc_classid, stx: [0x8001, 0] }, { off: F.queue_mapping, stx: [0xfffe, 0] }]],
  ['stx queue_mapping 0xffff', [{ off: F.queue_mapping, stx: [0xffff, 0] }]],
  ['stx queue_mapping 0x10003', [{ off: F.queue_mapping, stx: [0x10003, 0] }]],
  ['stx queue_mapping with upper bits', [{ off: F.queue_mapping, stx: [5, 1] }, { off: F.tc_index, stx: [0x7, -1] }]],
  ['stx queue_mapping -1', [{ off: F.queue_mapping, stx: [-1, -1] }, { off: F.tc_classid, stx: [-1, -1] }]],
  ['st immediates', [{ off: F.tc_index, st: -2 }, { off: F.tc_classid, st: 0x1ffff }, { off: F.queue_mapping, st: 7 }]],
  ['st queue_mapping 0xffff', [{ off: F.queue_mapping, st: 0xffff }]],
  ['st queue_mapping 0x10000', [{ off: F.queue_mapping, st: 0x10000 }]],
  ['st queue_mapping -1', [{ off: F.queue_mapping, st: -1 }]],
  ['st queue_mapping -0x10000', [{ off: F.queue_mapping, st: -0x10000 }]],
  ['stores then stores again', [{ off: F.queue_mapping, stx: [9, 0] }, { off: F.queue_mapping, stx: [0x20000, 0] }, { off: F.tc_index, st: 0x4321 }, { off: F.tc_index, stx: [0x1_0005, 0] }]],
];

const FRAME = Uint8Array.from({ length: 80 }, (_, i) => (i * 7 + 3) & 0xff);
const CTX_IN = new Uint8Array(F.SIZE);

/** describeResult renders a test-run result the way the kernel's is rendered. */
function describeResult(r: TestRunOutput): string {
  if (r.fault !== undefined) return `fault ${r.fault.code}: ${r.fault.message} (insn ${r.fault.insn})`;
  return `err ${r.err} retval ${r.retval} data_out ${hexOf(r.dataOut)} ctx_out ${r.ctxOut === undefined ? '-' : hexOf(r.ctxOut)}`;
}

/** simRuns runs a program twice on one engine (fresh TestRunner each time, one prepared program). */
function simRuns(engine: string, insns: readonly Insn[]): [string, string] {
  const mem = new Memory();
  const registry = new MapRegistry(mem, { cpus: 1 });
  const env = createRunEnv(mem, { helpers: makeHelperTable(registry, deterministicServices(), { license: 'GPL' }) });
  const exec = getEngine(engine).prepare({ name: 'ctx_readback', insns });
  const runner = new TestRunner({ exec, progType: ProgType.SCHED_CLS, env });
  const first = describeResult(runner.run({ data: FRAME, ctxIn: CTX_IN }));
  return [first, describeResult(runner.run({ data: FRAME, ctxIn: CTX_IN }))];
}

/**
 * modelField is what the kernel keeps in a narrow field after `stores` (bpf_convert_ctx_access):
 * tc_index and tc_classid take the low 16 bits; queue_mapping takes them unless STX's 64-bit
 * value, or ST's immediate as a signed number, is >= NO_QUEUE_MAPPING.
 */
function modelField(stores: readonly Store[], off: number): number {
  let v = 0;
  for (const s of stores) {
    if (s.off !== off) continue;
    const lo = 'st' in s ? s.st : s.stx[0];
    if (off === F.queue_mapping) {
      const ignored = 'st' in s ? s.st >= 0xffff : s.stx[1] !== 0 || s.stx[0] >>> 0 >= 0xffff;
      if (ignored) continue;
    }
    v = lo & 0xffff;
  }
  return v;
}

/** modelRead is convert_ctx_accesses' narrow load of a u16 field holding v (target_size 2). */
function modelRead(v: number, [off, size, sx]: Read): bigint {
  const fieldSize = 4;
  let r = v;
  if (size < fieldSize && size < 2) r = (v >>> ((off & 3) * 8)) & ((1 << (size * 8)) - 1);
  let out = BigInt(r >>> 0);
  if (sx === true) out = BigInt.asUintN(64, BigInt.asIntN(size * 8, out));
  return out;
}

describe('context read-back of narrowed __sk_buff fields', () => {
  it.each(engineNames())('engine %s agrees with the model of the kernel conversion, on first and cached runs', (engine) => {
    const bad: string[] = [];
    for (const [label, stores] of CASES) {
      for (const reads of READS) {
        const [first, again] = simRuns(engine, program(stores, reads));
        if (again !== first) bad.push(`${label}: second run differs: ${first} / ${again}`);
        const out = /data_out ([0-9a-f]+)/.exec(first)?.[1] ?? '';
        reads.forEach((read, i) => {
          const field = read[0] & ~3;
          const want = modelRead(modelField(stores, field), read);
          const bytes = out.slice(16 * i, 16 * i + 16);
          const got = bytes.length === 16 ? BigInt(`0x${(bytes.match(/../g) ?? []).reverse().join('')}`) : -1n;
          if (got !== want) bad.push(`${label}: read [${read.join(', ')}]: model 0x${want.toString(16)}, ${engine} 0x${got.toString(16)} (${first.slice(0, 60)})`);
        });
      }
    }
    expect(bad).toEqual([]);
  });

});

describe.skipIf(!avail.ok)(`context read-back: every engine vs kernel${skipReason}`, () => {
  const k = avail.runner as KernelTestRunner;
  afterAll(async () => k.close());

  it(`${CASES.length * READS.length} programs give the kernel's err, retval, data_out and ctx_out on ${engineNames().join(', ')}`, async () => {
    const bad: string[] = [];
    for (const [label, stores] of CASES) {
      for (const reads of READS) {
        const insns = program(stores, reads);
        const prog = await k.loadRaw(insns, { progType: 'sched_cls', name: 'ctx_readback' });
        const r = await k.run(prog, { dataIn: FRAME, ctxIn: CTX_IN });
        await k.closeHandle(prog.handle);
        const kernel = `err ${r.err} retval ${r.retval} data_out ${hexOf(r.dataOut)} ctx_out ${r.ctxOut === undefined ? '-' : hexOf(r.ctxOut)}`;
        for (const engine of engineNames()) {
          for (const got of simRuns(engine, insns)) {
            if (got !== kernel) bad.push(`${label} / reads ${JSON.stringify(reads)}:\n  kernel: ${kernel}\n  ${engine}: ${got}`);
          }
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('context accesses the verifier refuses (ldsx of packet pointers, atomics) fault in xdpsim at that instruction', async () => {
    const bad: string[] = [];
    for (const [label, hook, access, accepted] of REFUSED) {
      const insns = [makeInsn(0xb7, 2, 0, 0, 1), access, makeInsn(0xb7, 0, 0, 0, 2), makeInsn(0x95)];
      let kernel: boolean;
      try {
        const prog = await k.loadRaw(insns, { progType: hook, name: 'ctx_refused' });
        await k.closeHandle(prog.handle);
        kernel = true;
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        kernel = false;
      }
      if (kernel !== accepted) bad.push(`${label}: the kernel ${kernel ? 'accepts' : 'refuses'} it, the table says otherwise`);
      for (const engine of engineNames()) {
        const mem = new Memory();
        const env = createRunEnv(mem, { helpers: new Map() });
        const exec = getEngine(engine).prepare({ name: 'ctx_refused', insns });
        const r = new TestRunner({ exec, progType: hook === 'xdp' ? ProgType.XDP : ProgType.SCHED_CLS, env }).run({ data: FRAME });
        const faulted = r.fault !== undefined && r.fault.code === 'E_MEM_ACCESS' && r.fault.insn === 1;
        if (faulted === kernel) bad.push(`${label}: kernel ${kernel ? 'accepts' : 'refuses'}, ${engine} ${r.fault === undefined ? 'runs it' : `faults: ${r.fault.message}`}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('bpf_sock reads through __sk_buff->sk (rx_queue_mapping: the kernel turns NO_QUEUE_MAPPING into -1) match the kernel', async () => {
    const bad: string[] = [];
    for (const reads of SOCK_READS) {
      const insns = sockProgram(reads);
      const prog = await k.loadRaw(insns, { progType: 'sched_cls', name: 'sock_read' });
      const r = await k.run(prog, { dataIn: FRAME, ctxIn: CTX_IN });
      await k.closeHandle(prog.handle);
      const kernel = `err ${r.err} retval ${r.retval} data_out ${hexOf(r.dataOut)} ctx_out ${r.ctxOut === undefined ? '-' : hexOf(r.ctxOut)}`;
      for (const engine of engineNames()) {
        for (const got of simRuns(engine, insns)) {
          if (got !== kernel) bad.push(`reads ${JSON.stringify(reads)}:\n  kernel: ${kernel}\n  ${engine}: ${got}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });
});
