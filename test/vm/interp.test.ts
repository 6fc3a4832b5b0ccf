/**
 * interp — run-time behaviour of every engine beyond single instructions: bpf-to-bpf calls and
 * their depth limit, the instruction budget, memory faults, helpers (including GuestFault,
 * callbacks and exitRequested), tail calls and their limit of 33, and refused instructions.
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/isa/asm/index.js';
import { makeInsn } from '../../src/isa/insn.js';
import { MAX_TAIL_CALL_CNT } from '../../src/isa/opcodes.js';
import { engineNames, getEngine } from '../../src/vm/engines.js';
import { FaultCode, GuestFault } from '../../src/vm/fault.js';
import { Memory, RegionKind } from '../../src/vm/memory.js';
import type { Executable, HelperImpl, RunResult } from '../../src/vm/program.js';
import { createRunEnv } from '../../src/vm/run.js';
import { r0Of, runAsm } from './util.js';

function faultOf(r: RunResult) {
  if (r.ok) throw new Error(`expected a fault, got r0 = 0x${r.r0.toString(16)}`);
  return r.fault;
}

describe.each(engineNames())('engine %s', (engineName) => {
  const engine = getEngine(engineName);

  describe('bpf-to-bpf calls', () => {
    it('pass r1-r5, return r0, preserve r6-r9 and give the callee its own r10', () => {
      const src = `
        mov %r6, 6
        mov %r7, 7
        mov %r8, 8
        mov %r9, 9
        mov %r1, 100
        mov %r2, %r10
        call local f
        jne %r6, 6, bad
        jne %r7, 7, bad
        jne %r8, 8, bad
        jne %r9, 9, bad
        exit
      bad:
        mov %r0, -1
        exit
      f:
        mov %r6, 0
        mov %r7, 0
        mov %r8, 0
        mov %r9, 0
        mov %r0, %r2
        sub %r0, %r10
        add %r0, %r1
        exit`;
      // caller r10 - callee r10 = 512 (one frame), plus r1 = 100
      expect(r0Of(runAsm(engine, src).res)).toBe(612n);
    });

    it("let the callee use the caller's stack through a pointer", () => {
      const src = `
        stdw [%r10-8], 41
        mov %r1, %r10
        sub %r1, 8
        call local f
        ldxdw %r0, [%r10-8]
        exit
      f:
        ldxdw %r2, [%r1]
        add %r2, 1
        stxdw [%r1], %r2
        exit`;
      expect(r0Of(runAsm(engine, src).res)).toBe(42n);
    });

    it('allow 8 frames and refuse the 9th with E_CALL_DEPTH', () => {
      // f(n): if n == 0 return 0; else return f(n-1) + 1, called from main with r1 = depth.
      const prog = (n: number): string => `
        mov %r1, ${n}
        call local f
        exit
      f:
        mov %r0, 0
        jeq %r1, 0, done
        sub %r1, 1
        call local f
        add %r0, 1
      done:
        exit`;
      // main (frame 0) + f with r1 = 6..0 = 7 frames of f: 8 frames in all.
      expect(r0Of(runAsm(engine, prog(6)).res)).toBe(6n);
      const f = faultOf(runAsm(engine, prog(7)).res);
      expect(f.code).toBe(FaultCode.CallDepth);
      expect(f.insn).toBe(6); // the "call local f" inside f
    });

    it('fault below the current frame: the callee cannot reach past its own 512 bytes', () => {
      const src = `
        call local f
        exit
      f:
        ldxdw %r0, [%r10-520]
        exit`;
      const f = faultOf(runAsm(engine, src).res);
      expect(f.code).toBe(FaultCode.MemoryAccess);
      expect(f.insn).toBe(2);
      expect(f.access?.kind).toBe('read');
    });
  });

  describe('instruction budget', () => {
    it('ends an infinite loop with E_INSN_BUDGET after exactly insnBudget instructions', () => {
      const { res } = runAsm(engine, 'mov %r0, 0\nloop:\nadd %r0, 1\nja loop', { insnBudget: 1001 });
      expect(faultOf(res).code).toBe(FaultCode.Budget);
      expect(res.insnCount).toBe(1001);
    });

    it('lets a program finish with a budget equal to its length', () => {
      const { res } = runAsm(engine, 'mov %r0, 1\nadd %r0, 1\nexit', { insnBudget: 3 });
      expect(r0Of(res)).toBe(2n);
      expect(res.insnCount).toBe(3);
    });
  });

  describe("clang's instruction groups (the interpreter runs them as superinstructions)", () => {
    // [name, program, r0]: each group on values where 64-bit width, carries and signs matter.
    const cases: Array<[string, string, bigint]> = [
      ['mov + add carries into the high half', 'mov32 %r1, -1\nmov %r0, %r1\nadd %r0, 1\nexit', 0x1_0000_0000n],
      ['mov + add of a negative constant', 'mov32 %r1, 5\nmov %r0, %r1\nadd %r0, -6\nexit', 0xffff_ffff_ffff_ffffn],
      ['mov + add onto its own source', 'mov32 %r0, 7\nmov %r0, %r0\nadd %r0, 3\nexit', 10n],
      ['mov + add + jgt taken', 'mov32 %r2, 100\nmov32 %r3, 90\nmov %r1, %r3\nadd %r1, 14\njgt %r1, %r2, out\nmov %r0, 1\nexit\nout:\nmov %r0, 2\nexit', 2n],
      ['mov + add + jgt not taken', 'mov32 %r2, 100\nmov32 %r3, 80\nmov %r1, %r3\nadd %r1, 14\njgt %r1, %r2, out\nmov %r0, 1\nexit\nout:\nmov %r0, 2\nexit', 1n],
      ['mov + add + jgt decided by the high half', 'mov32 %r2, 100\nmov32 %r3, -1\nmov %r1, %r3\nadd %r1, 1\njgt %r1, %r2, out\nmov %r0, 1\nexit\nout:\nmov %r0, 2\nexit', 2n],
      ['mov + add + jge on equal values', 'mov32 %r2, 104\nmov32 %r3, 90\nmov %r1, %r3\nadd %r1, 14\njge %r1, %r2, out\nmov %r0, 1\nexit\nout:\nmov %r0, 2\nexit', 2n],
      ['mov + add + jgt, the add result kept', 'mov32 %r2, 100\nmov32 %r3, 90\nmov %r0, %r3\nadd %r0, 14\njgt %r0, %r2, out\nexit\nout:\nadd %r0, 1000\nexit', 1104n],
      ['mov imm + jgt taken', 'mov32 %r1, 5\nmov32 %r2, 4\nmov %r0, 1\njgt %r1, %r2, out\nmov %r0, 3\nout:\nexit', 1n],
      ['mov imm + jge on the register just set', 'mov32 %r2, 4\nmov %r0, 4\njge %r0, %r2, out\nmov %r0, 3\nout:\nexit', 4n],
      ['mov imm + jgt not taken', 'mov32 %r1, 3\nmov32 %r2, 4\nmov %r0, 1\njgt %r1, %r2, out\nmov %r0, 3\nout:\nexit', 3n],
      ['mov imm + jeq on a sign-extended constant', 'mov %r1, -1\nmov %r0, 5\njeq %r1, -1, out\nmov %r0, 3\nout:\nexit', 5n],
      ['mov imm + jne on the register just set', 'mov %r0, 3\njne %r0, 3, out\nmov %r0, 9\nout:\nexit', 9n],
      ['ldxw + jeq: a loaded 0xffffffff is not -1', 'stw [%r10-4], -1\nldxw %r1, [%r10-4]\nmov %r0, 1\njeq %r1, -1, out\nmov %r0, 2\nout:\nexit', 2n],
      ['ldxw + jne: a loaded 0xffffffff is not -1', 'stw [%r10-4], -1\nmov %r0, 1\nldxw %r1, [%r10-4]\njne %r1, -1, out\nmov %r0, 2\nout:\nexit', 1n],
      ['ldxb + jeq taken', 'stw [%r10-4], 0x1211\nmov %r0, 1\nldxb %r1, [%r10-4]\njeq %r1, 0x11, out\nmov %r0, 2\nout:\nexit', 1n],
      ['ldxh + jne not taken, the load kept', 'stw [%r10-4], 0x1211\nldxh %r0, [%r10-4]\njne %r0, 0x1211, out\nadd %r0, 1\nout:\nexit', 0x1212n],
      ['lsh + or past 32 bits', 'mov32 %r1, 0xab\nmov32 %r2, 0xcd\nlsh %r1, 40\nor %r1, %r2\nmov %r0, %r1\nexit', 0xab00_0000_00cdn],
      ['lsh32 + or32 zero-extend', 'mov %r1, -1\nmov32 %r2, 0xcd\nlsh32 %r1, 8\nor32 %r1, %r2\nmov %r0, %r1\nexit', 0xffff_ffcdn],
      ['mov imm + exit sign-extends', 'mov %r0, -2\nexit', 0xffff_ffff_ffff_fffen],
      ['mov32 imm + exit zero-extends', 'mov %r0, -1\nmov32 %r0, -2\nexit', 0xffff_fffen],
      ['a jump into the middle of a group runs its rest only', 'mov32 %r0, 1\nmov32 %r1, 50\nja mid\nmov %r0, %r1\nmid:\nadd %r0, 5\nexit', 6n],
    ];
    it.each(cases)('%s', (_name, src, r0) => {
      expect(r0Of(runAsm(engine, src).res)).toBe(r0);
    });

    it('a group cut by the budget runs up to the exact instruction, like the unfused instructions', () => {
      // Straight-line: every jump goes to the next slot, so slot k is the k-th instruction run.
      // The ldxdw opens the stack's read window, so the loads that follow take the fast path.
      const insns = assemble(`
        mov32 %r2, 200
        mov32 %r3, 10
        mov %r1, %r3
        add %r1, 14
        jgt %r1, %r2, l1
      l1:
        mov %r4, %r1
        add %r4, 3
        mov %r0, 1
        jge %r2, %r1, l2
      l2:
        mov %r0, 2
        jeq %r0, 2, l3
      l3:
        stw [%r10-4], 0x11
        ldxdw %r8, [%r10-8]
        ldxb %r5, [%r10-4]
        jne %r5, 0x11, l4
      l4:
        ldxh %r6, [%r10-4]
        jeq %r6, 0x11, l5
      l5:
        ldxw %r7, [%r10-4]
        jne %r7, 7, l6
      l6:
        lsh %r5, 8
        or %r5, %r6
        lsh32 %r7, 4
        or32 %r7, %r5
        mov %r0, %r7
        jeq %r0, 0, l7
      l7:
        mov32 %r0, 0x1111
        exit`);
      const n = insns.length;
      const mem = new Memory(1 << 17);
      const full = engine.prepare({ name: 'g', insns }).run(createRunEnv(mem, { insnBudget: n }), 0);
      expect(r0Of(full)).toBe(0x1111n); // (0x11 << 8 | 0x11) | 0x11 << 4
      expect(full.insnCount).toBe(n);
      for (let b = 1; b < n; b++) {
        const env = createRunEnv(mem, { insnBudget: b });
        const r = engine.prepare({ name: 'g', insns }).run(env, 0);
        const f = faultOf(r);
        expect([f.code, f.insn, r.insnCount]).toEqual([FaultCode.Budget, b, b]);
        if (engineName === 'interp') {
          // The registers at the fault are those of the first b instructions run alone (then a
          // refused slot), where no group is cut.
          const env2 = createRunEnv(mem);
          const r2 = engine.prepare({ name: 'p', insns: [...insns.slice(0, b), makeInsn(0x8f)] }).run(env2, 0);
          expect(faultOf(r2).code).toBe(FaultCode.BadInsn);
          expect(Array.from(env.regs.subarray(0, 20))).toEqual(Array.from(env2.regs.subarray(0, 20)));
        }
      }
    });
  });

  describe('memory faults', () => {
    it('NULL dereference names the instruction, kind, address and size', () => {
      const f = faultOf(runAsm(engine, 'mov %r0, 0\nldxw %r0, [%r1+16]\nexit').res);
      expect(f.code).toBe(FaultCode.MemoryAccess);
      expect(f.insn).toBe(1);
      expect(f.access).toMatchObject({ kind: 'read', addr: 16, size: 4 });
    });

    it('out of the stack above r10', () => {
      const f = faultOf(runAsm(engine, 'stdw [%r10+0], 1\nmov %r0, 0\nexit').res);
      expect(f.code).toBe(FaultCode.MemoryAccess);
      expect(f.access).toMatchObject({ kind: 'write', size: 8 });
    });

    it('out of the stack below frame 0 (r10-520)', () => {
      const f = faultOf(runAsm(engine, 'ldxb %r0, [%r10-513]\nexit').res);
      expect(f.code).toBe(FaultCode.MemoryAccess);
      expect(f.access?.region).toBe('stack');
    });

    it('an access straddling the end of a region', () => {
      const f = faultOf(runAsm(engine, 'ldxw %r0, [%r1+2]\nexit', { mem: new Uint8Array(4) }).res);
      expect(f.code).toBe(FaultCode.MemoryAccess);
      expect(f.access).toMatchObject({ kind: 'read', size: 4, region: 'mem' });
    });

    it('a write to a read-only region', () => {
      const ran = runAsm(engine, 'ldxb %r0, [%r1]\nstb [%r1], 1\nexit', { mem: Uint8Array.of(9), readOnly: true });
      const f = faultOf(ran.res);
      expect(f.code).toBe(FaultCode.MemoryAccess);
      expect(f.insn).toBe(1);
      expect(f.access).toMatchObject({ kind: 'write', size: 1, region: 'mem' });
      expect(ran.mem.u8[ran.region!.start]).toBe(9);
    });

    it('a pointer with nonzero upper 32 bits is E_BAD_POINTER', () => {
      const f = faultOf(runAsm(engine, 'lddw %r1, 0x100010000\nldxb %r0, [%r1]\nexit').res);
      expect(f.code).toBe(FaultCode.BadPointer);
      expect(f.insn).toBe(2);
    });

    it('faults carry the C source line when the program has line info', () => {
      const mem = new Memory(1 << 17);
      const env = createRunEnv(mem);
      const spec = { name: 'p', insns: assemble('mov %r0, 0\nldxw %r0, [%r0]\nexit'), lineInfo: new Map([[1, 'prog.c:12:5']]) };
      const f = faultOf(engine.prepare(spec).run(env, 0));
      expect(f.source).toBe('prog.c:12:5');
      expect(f.program).toBe('p');
    });
  });

  describe('helpers', () => {
    it('receive r1-r5 and return r0; negative numbers are sign-extended', () => {
      const sum: HelperImpl = (env) => {
        let s = 0;
        for (let i = 1; i <= 5; i++) s += env.regs[2 * i];
        return -s;
      };
      const r = runAsm(engine, 'mov %r1, 1\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 5\ncall 77\nexit', { helpers: new Map([[77, sum]]) });
      expect(r0Of(r.res)).toBe(BigInt.asUintN(64, -15n));
    });

    it('return a bigint modulo 2^64', () => {
      const r = runAsm(engine, 'call 1\nexit', { helpers: new Map([[1, () => -(1n << 63n)]]) });
      expect(r0Of(r.res)).toBe(1n << 63n);
    });

    it('an unknown helper id is E_UNKNOWN_HELPER at the call', () => {
      const f = faultOf(runAsm(engine, 'mov %r0, 0\ncall 9\nexit').res);
      expect(f.code).toBe(FaultCode.UnknownHelper);
      expect(f.insn).toBe(1);
    });

    it('a GuestFault thrown by a helper becomes a fault at the call instruction', () => {
      const bad: HelperImpl = () => {
        throw new GuestFault(FaultCode.HelperArgs, 'bad flags');
      };
      const f = faultOf(runAsm(engine, 'mov %r0, 0\nmov %r1, 0\ncall 3\nexit', { helpers: new Map([[3, bad]]) }).res);
      expect(f.code).toBe(FaultCode.HelperArgs);
      expect(f.insn).toBe(2);
    });

    it('see env.current (program and call instruction)', () => {
      let seen = '';
      const spy: HelperImpl = (env) => {
        seen = `${env.current?.program}@${env.current?.insn}`;
        return 0;
      };
      runAsm(engine, 'mov %r0, 0\ncall 4\nexit', { helpers: new Map([[4, spy]]) });
      expect(seen).toBe('test@1');
    });

    it('callx calls the helper whose id is in the dst register', () => {
      const r = runAsm(engine, 'mov %r2, 6\ncall %r2\nexit', { helpers: new Map([[6, () => 66]]) });
      expect(r0Of(r.res)).toBe(66n);
    });

    it('exitRequested ends the run with the helper result as r0', () => {
      const stop: HelperImpl = (env) => {
        env.exitRequested = true;
        return 5;
      };
      const r = runAsm(engine, 'call 1\nmov %r0, 9\nexit', { helpers: new Map([[1, stop]]) });
      expect(r0Of(r.res)).toBe(5n);
    });

    it('callSubprog runs a callback as a new frame, counts it, and restores the caller', () => {
      // A bpf_loop-like helper: calls the callback at r1 (an instruction index) r2 times with
      // (i, r3) and sums the results.
      const loop: HelperImpl = (env) => {
        const target = env.regs[2];
        const n = env.regs[4];
        let s = 0n;
        for (let i = 0; i < n; i++) s += env.callSubprog!(target, [BigInt(i), BigInt(env.regs[6])]);
        return s;
      };
      const src = `
        mov %r6, 1000
        mov %r1, 9
        mov %r2, 4
        mov %r3, 10
        call 181
        jne %r6, 1000, bad
        exit
      bad:
        mov %r0, -1
        exit
      cb:
        mov %r6, 0
        mov %r0, %r1
        add %r0, %r2
        exit`;
      // callbacks return i + 10 for i = 0..3: 46
      const ran = runAsm(engine, src, { helpers: new Map([[181, loop]]) });
      expect(r0Of(ran.res)).toBe(46n);
      expect(ran.res.insnCount).toBe(7 + 4 * 4);
    });

    it('a fault inside a callback is reported where it happened', () => {
      const call: HelperImpl = (env) => env.callSubprog!(4, []);
      const src = 'mov %r0, 0\ncall 181\nexit\nexit\nldxw %r0, [%r1]\nexit';
      const f = faultOf(runAsm(engine, src, { helpers: new Map([[181, call]]) }).res);
      expect(f.code).toBe(FaultCode.MemoryAccess);
      expect(f.insn).toBe(4);
    });
  });

  describe('tail calls', () => {
    // Counts its own runs in *(u32 *)r1, then tail-calls prog_array[r1[1]] (fake map address).
    const counter = `
        mov %r6, %r1
        ldxw %r0, [%r6+0]
        add %r0, 1
        stxw [%r6+0], %r0
        mov %r1, %r6
        lddw %r2, 0x20000000
        ldxw %r3, [%r6+4]
        call 12
        ldxw %r0, [%r6+0]
        exit`;

    function setup(slot: (self: Executable, index: number) => Executable | null | undefined, index: number) {
      const mem = new Memory(1 << 17);
      const ctx = mem.map(RegionKind.Scratch, 'ctx', 8);
      mem.dv.setUint32(ctx.start + 4, index, true);
      let self: Executable | undefined;
      const seen: number[] = [];
      const env = createRunEnv(mem, {
        tailCall: (map, i) => {
          seen.push(map);
          return slot(self!, i);
        },
      });
      self = engine.prepare({ name: 'counter', insns: assemble(counter) });
      return { res: self.run(env, ctx.start), seen };
    }

    it(`stop after ${MAX_TAIL_CALL_CNT} tail calls and go on after the failed one`, () => {
      const { res, seen } = setup((self, i) => (i === 0 ? self : undefined), 0);
      expect(r0Of(res)).toBe(BigInt(MAX_TAIL_CALL_CNT + 1));
      expect(seen[0]).toBe(0x20000000);
    });

    it('an empty in-range slot (null) fails but counts; an out-of-range index does not count', () => {
      expect(r0Of(setup(() => null, 0).res)).toBe(1n);
      expect(r0Of(setup(() => undefined, 5).res)).toBe(1n);
    });

    it('continue in the target program with r1 (the context) as the caller left it', () => {
      const mem = new Memory(1 << 17);
      const ctx = mem.map(RegionKind.Scratch, 'ctx', 8);
      mem.dv.setUint32(ctx.start, 40, true);
      const target = engine.prepare({ name: 'target', insns: assemble('ldxw %r0, [%r1]\nadd %r0, 2\nexit') });
      const env = createRunEnv(mem, { tailCall: (_m, i) => (i === 3 ? target : undefined) });
      const main = engine.prepare({
        name: 'main',
        insns: assemble('mov %r6, %r1\nmov %r1, 0\nmov %r1, %r6\nmov %r3, 3\ncall 12\nmov %r0, -1\nexit'),
      });
      expect(r0Of(main.run(env, ctx.start))).toBe(42n);
    });
  });

  describe('instructions that must not run', () => {
    const run = (insns: ReturnType<typeof makeInsn>[]) => engine.prepare({ name: 'raw', insns }).run(createRunEnv(new Memory(1 << 17)), 0);

    it('an unresolved pseudo lddw is E_BAD_INSN', () => {
      const f = faultOf(run([makeInsn(0x18, 0, 1, 0, 3), makeInsn(0), makeInsn(0x95)]));
      expect(f.code).toBe(FaultCode.BadInsn);
      expect(f.insn).toBe(0);
    });

    it('an unknown opcode is E_BAD_INSN', () => {
      expect(faultOf(run([makeInsn(0xe7, 0, 0, 0, 1), makeInsn(0x95)])).code).toBe(FaultCode.BadInsn);
    });

    it('falling off the end is E_PC_RANGE', () => {
      const f = faultOf(run([makeInsn(0xb7, 0, 0, 0, 1)]));
      expect(f.code).toBe(FaultCode.PcOutOfRange);
      expect(f.insn).toBe(1);
    });

    it('a jump outside the program is E_PC_RANGE at the jump', () => {
      const f = faultOf(run([makeInsn(0x05, 0, 0, 5), makeInsn(0x95)]));
      expect(f.code).toBe(FaultCode.PcOutOfRange);
      expect(f.insn).toBe(0);
    });

    it('a jump into the second slot of lddw is E_BAD_INSN', () => {
      const f = faultOf(run([makeInsn(0x05, 0, 0, 1), makeInsn(0x18, 0, 0, 0, 1), makeInsn(0, 0, 0, 0, 2), makeInsn(0x95)]));
      expect(f.code).toBe(FaultCode.BadInsn);
      expect(f.insn).toBe(2);
    });
  });

  it('runs many times on one env without state leaking between runs', () => {
    const mem = new Memory(1 << 17);
    const env = createRunEnv(mem);
    const exe = engine.prepare({ name: 'p', insns: assemble('ldxdw %r0, [%r10-8]\nadd %r0, %r1\nstxdw [%r10-8], %r0\nmov %r0, %r6\nexit') });
    for (let i = 0; i < 5; i++) {
      const r = exe.run(env, 7);
      // r6 is zeroed at every run start; the stack is not (as in the kernel, which forbids
      // reading uninitialised stack): the running sum is visible.
      expect(r0Of(r)).toBe(0n);
    }
    expect(mem.dv.getUint32(env.stack.start + 8 * 512 - 8, true)).toBe(35);
  });
});
