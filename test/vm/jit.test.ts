/**
 * Tests specific to the compiled engine: the wasm writer's integer encodings, the exactness of
 * the per-block budget at every budget, and the run-time caches the compiler relies on (packet
 * and victim region slots, context inline caches) staying correct when regions change between
 * runs, inside helpers, across nested runs and memory growth. Everything is compared with the
 * reference interpreter.
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/isa/asm/index.js';
import { makeInsn, type Insn } from '../../src/isa/insn.js';
import { jitEngine } from '../../src/vm/compile/jit.js';
import { ByteWriter, I64, ModuleBuilder, Op } from '../../src/vm/compile/wasm.js';
import { interpEngine } from '../../src/vm/interp.js';
import { Memory, RegionKind, type Region } from '../../src/vm/memory.js';
import { planFromPolicy } from '../../src/vm/ctx-plan.js';
import type { Engine, Executable, HelperImpl, RunEnv, RunResult } from '../../src/vm/program.js';
import { createRunEnv } from '../../src/vm/run.js';

describe('wasm writer', () => {
  it('encodes i64 constants exactly (signed LEB128 over 32-bit halves)', () => {
    const values: bigint[] = [0n, 1n, -1n, 63n, 64n, -64n, -65n, 0x7fn, 0x80n, 0x7fffffffn, 0x80000000n, -0x80000000n, 0xffffffffn];
    values.push(0x1_0000_0000n, -0x1_0000_0000n, 0x7fff_ffff_ffff_ffffn, -0x8000_0000_0000_0000n, 0x0123_4567_89ab_cdefn, -0x0123_4567_89ab_cdefn);
    for (let k = 0; k < 64; k++) values.push(1n << BigInt(k), -(1n << BigInt(k)), (1n << BigInt(k)) - 1n);
    const m = new ModuleBuilder();
    for (const [i, v] of values.entries()) {
      const f = m.declareFunc();
      const u = BigInt.asUintN(64, v);
      const w = new ByteWriter().byte(Op.i64Const).s64(Number(u >> 32n) | 0, Number(u & 0xffffffffn) | 0);
      m.defineFunc(f, [], [I64], [], w.finish());
      m.exportFunc(`v${i}`, f);
    }
    const inst = new WebAssembly.Instance(new WebAssembly.Module(m.build()));
    values.forEach((v, i) => {
      expect((inst.exports[`v${i}`] as () => bigint)()).toBe(BigInt.asIntN(64, v));
    });
  });

  it('encodes unsigned and signed 32-bit LEB128', () => {
    expect([...new ByteWriter().u32(624485).finish()]).toEqual([0xe5, 0x8e, 0x26]);
    expect([...new ByteWriter().u32(0xffffffff).finish()]).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect([...new ByteWriter().s32(-123456).finish()]).toEqual([0xc0, 0xbb, 0x78]);
    expect([...new ByteWriter().s32(63).finish()]).toEqual([0x3f]);
    expect([...new ByteWriter().s32(64).finish()]).toEqual([0xc0, 0x00]);
    expect([...new ByteWriter().s32(-64).finish()]).toEqual([0x40]);
  });
});

/** Setup is one fresh VM instance for one engine. */
interface Setup {
  mem: Memory;
  env: RunEnv;
  packet: Region;
  ctx: Region;
  exe: Executable;
}

function setup(engine: Engine, insns: readonly Insn[], opts: { budget?: number; helpers?: Map<number, HelperImpl> } = {}): Setup {
  const mem = new Memory(1 << 18);
  const ctx = mem.map(RegionKind.Context, 'ctx', 16, { ctxPolicy: (off, size, write) => !write && size === 4 && off % 4 === 0 });
  const packet = mem.map(RegionKind.Packet, 'packet', 4096);
  packet.lo = packet.start + 256;
  packet.hi = packet.lo + 64;
  mem.dv.setUint32(ctx.start, packet.lo, true);
  mem.dv.setUint32(ctx.start + 4, packet.hi, true);
  const env = createRunEnv(mem, { insnBudget: opts.budget ?? 100_000, helpers: opts.helpers });
  return { mem, env, packet, ctx, exe: engine.prepare({ name: 't', insns }) };
}

/** both runs `step` on a fresh setup per engine and expects equal results at every call. */
function both(insns: readonly Insn[], steps: Array<(s: Setup) => unknown>, opts: Parameters<typeof setup>[2] = {}): void {
  const a = setup(interpEngine, insns, opts);
  const b = setup(jitEngine, insns, opts);
  for (const step of steps) expect(step(b)).toEqual(step(a));
}

const run = (s: Setup): RunResult => s.exe.run(s.env, s.ctx.start);

describe('budget', () => {
  it('faults on the same instruction at every budget, with the same count and stores', () => {
    // A loop with stores, a bpf-to-bpf call and a conditional: many block boundaries.
    const insns = assemble(
      [
        'mov %r6, 0',
        'loop:',
        'add %r6, 1',
        'stxdw [%r10-8], %r6',
        'mov %r1, %r6',
        'call local f',
        'jlt %r6, 6, loop',
        'ldxdw %r0, [%r10-8]',
        'exit',
        'f:',
        'mov %r0, %r1',
        'mul %r0, 3',
        'jset %r0, 1, odd',
        'add %r0, 1',
        'odd:',
        'stxdw [%r10-16], %r0',
        'exit',
      ].join('\n'),
    );
    const full = setup(interpEngine, insns).exe.run(setup(interpEngine, insns).env, 0);
    expect(full.ok).toBe(true);
    for (let budget = 1; budget <= full.insnCount + 1; budget++) {
      both(insns, [(s) => [run(s), Buffer.from(s.mem.copy(s.env.stack.start, s.env.stack.end - s.env.stack.start)).toString('hex')]], { budget });
    }
  });
});

describe('region caches', () => {
  const readWrite = assemble('ldxw %r2, [%r1+0]\nldxw %r3, [%r1+4]\nldxb %r0, [%r2+40]\nstb [%r2+41], 7\nldxb %r4, [%r2+41]\nadd %r0, %r4\nexit');

  it('follow the packet region when its bounds change between runs', () => {
    const steps: Array<(s: Setup) => unknown> = [];
    for (const len of [64, 41, 42, 0, 64, 40, 100]) {
      steps.push((s) => {
        s.packet.hi = s.packet.lo + len;
        return run(s);
      });
    }
    both(readWrite, steps);
  });

  it('follow permission changes between runs', () => {
    both(readWrite, [
      run,
      (s) => {
        s.packet.writable = false;
        return run(s);
      },
      (s) => {
        s.packet.writable = true;
        s.packet.readable = false;
        return run(s);
      },
      (s) => {
        s.packet.readable = true;
        return run(s);
      },
    ]);
  });

  it('context inline caches are dropped when the context policy changes', () => {
    both(readWrite, [
      run,
      run,
      (s) => {
        s.ctx.ctxPlan = planFromPolicy('ctx', (off) => off !== 4);
        return run(s);
      },
      (s) => {
        s.ctx.ctxPlan = planFromPolicy('ctx', () => true);
        return run(s);
      },
      (s) => {
        s.ctx.hi = s.ctx.lo + 4;
        return run(s);
      },
    ]);
  });

  it('a helper moving the packet start (like bpf_xdp_adjust_head) is seen by the next access', () => {
    const helpers = new Map<number, HelperImpl>([
      [
        44,
        (env) => {
          const pkt = env.mem.regionAt(env.regs[2] >>> 0);
          pkt.lo += env.regs[4];
          return 0;
        },
      ],
    ]);
    // Touch the packet (fills the slot), move its start by 16 (r1 = packet, r2 = 16), then
    // access below the new start: must fault.
    const insns = assemble('ldxw %r6, [%r1+0]\nldxb %r0, [%r6+0]\nmov %r1, %r6\nmov %r2, 16\ncall 44\nldxb %r0, [%r6+8]\nexit');
    both(insns, [run], { helpers });
  });

  it('map-like regions hit through the victim slot, and faults past their end stay exact', () => {
    const insns = assemble('ldxw %r2, [%r1+8]\nldxdw %r0, [%r2+0]\nadd %r2, %r0\nldxdw %r0, [%r2+0]\nexit');
    const steps: Array<(s: Setup) => unknown> = [];
    for (const off of [0, 8, 4088, 4089, 100, 1 << 20]) {
      steps.push((s) => {
        let v = s.mem.regions.find((r) => r.name === 'values');
        if (v === undefined) v = s.mem.map(RegionKind.MapValue, 'values', 4096);
        s.mem.dv.setUint32(s.ctx.start + 8, v.start, true);
        s.mem.dv.setBigUint64(v.start, BigInt(off), true);
        return run(s);
      });
    }
    both(insns, steps);
  });

  it('memory growth after instantiation (a large region mapped between runs)', () => {
    const insns = assemble('ldxw %r2, [%r1+8]\nstdw [%r2+0], 42\nldxdw %r0, [%r2+0]\nexit');
    both(insns, [
      run,
      (s) => {
        const big = s.mem.map(RegionKind.MapValue, 'big', 8 << 20);
        s.mem.dv.setUint32(s.ctx.start + 8, big.start + (8 << 20) - 8, true);
        return [run(s), s.mem.size >= big.end];
      },
    ]);
  });
});

describe('entries and nesting', () => {
  it('a callback whose address is not an lddw constant is compiled on demand', () => {
    const helpers = new Map<number, HelperImpl>([[50, (env) => (env.callSubprog as NonNullable<RunEnv['callSubprog']>)(env.regs[2], [5n, 6n])]]);
    // r1 = 4: the callback at instruction 4 (r0 = r1 * r2); only reachable through helper 50.
    const insns: Insn[] = [makeInsn(0xb7, 1, 0, 0, 4), makeInsn(0x85, 0, 0, 0, 50), makeInsn(0x07, 0, 0, 0, 1), makeInsn(0x95), ...assemble('mov %r0, %r1\nmul %r0, %r2\nexit')];
    both(insns, [run, run], { helpers });
  });

  it('a helper may run another program on the same memory (nested run)', () => {
    const inner = assemble('mov %r0, 7\nloop:\nsub %r0, 1\njne %r0, 0, loop\nmov %r0, 99\nexit');
    const outer = assemble('mov %r6, 3\ncall 60\nadd %r0, %r6\nstxdw [%r10-8], %r0\nldxdw %r0, [%r10-8]\nexit');
    const make = (engine: Engine): Map<number, HelperImpl> => {
      const prog = engine.prepare({ name: 'inner', insns: inner });
      return new Map<number, HelperImpl>([
        [
          60,
          (env) => {
            const env2 = createRunEnv(env.mem, { insnBudget: 1000 });
            const r = prog.run(env2, 0);
            return r.ok ? Number(r.r0) + r.insnCount * 1000 : -1;
          },
        ],
      ]);
    };
    const a = setup(interpEngine, outer, { helpers: make(interpEngine) });
    const b = setup(jitEngine, outer, { helpers: make(jitEngine) });
    expect(run(b)).toEqual(run(a));
    expect(run(b)).toEqual(run(a));
  });

  it('a large program (20k instructions, loops) compiles and agrees', () => {
    // r0 = r6 = r7 = 0; loop: 20000 body instructions; r7 += 1; if r7 >= 3 exit; else loop.
    const insns: Insn[] = [makeInsn(0xb7, 0, 0, 0, 0), makeInsn(0xb7, 6, 0, 0, 0), makeInsn(0xb7, 7, 0, 0, 0)];
    const head = insns.length;
    for (let k = 0; k < 5000; k++) {
      insns.push(makeInsn(0x07, 0, 0, 0, k * 7919));
      insns.push(makeInsn(0xaf, 0, 6, 0, 0));
      insns.push(makeInsn(0x7b, 10, 0, -8 * (1 + (k % 32)), 0));
      insns.push(makeInsn(0x79, 6, 10, -8 * (1 + ((k * 7) % 32)), 0));
    }
    const k = insns.length;
    insns.push(makeInsn(0x07, 7, 0, 0, 1), makeInsn(0x35, 7, 0, 1, 3), makeInsn(0x05, 0, 0, head - (k + 2) - 1, 0), makeInsn(0x95));
    both(insns, [run]);
  });
});
