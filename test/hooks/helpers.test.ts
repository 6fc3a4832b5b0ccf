/**
 * Packet helpers through assembled programs on the reference interpreter: bpf_fib_lookup against a
 * datapath route table, bound checks, and stale packet pointers faulting after the packet moved.
 * (Kernel parity of every helper is in test/parity/testrun-*.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/isa/asm/index.js';
import { Memory } from '../../src/vm/memory.js';
import { createRunEnv } from '../../src/vm/run.js';
import { getEngine } from '../../src/vm/engines.js';
import { packetHelperMap } from '../../src/helpers/skb.js';
import { FibRet } from '../../src/helpers/xdp.js';
import { LOOPBACK, type DatapathHooks } from '../../src/hooks/datapath.js';
import { TestRunner } from '../../src/hooks/testrun.js';
import { ProgType } from '../../src/hooks/tc.js';
import { FaultCode } from '../../src/vm/fault.js';

function runner(asm: string, datapath?: DatapathHooks): TestRunner {
  const env = createRunEnv(new Memory(), { helpers: packetHelperMap() });
  const exec = getEngine('interp').prepare({ name: 'p', insns: assemble(asm) });
  return new TestRunner({ exec, progType: ProgType.XDP, env, datapath });
}

/** Builds struct bpf_fib_lookup on the stack (family P1, ifindex P2, dst 10.0.0.P3), calls it with plen P4 and flags P5, returns ret | out_ifindex << 8 | dmac[5] << 16. */
function fibProg(family: number, ifindex: number, dstLast: number, plen: number, flags: number): string {
  const zero = Array.from({ length: 8 }, (_, i) => `stdw [%r10-${64 - 8 * i}], 0`).join('\n');
  return `mov %r6, %r1
${zero}
stb [%r10-64], ${family}
stw [%r10-56], ${ifindex}
stw [%r10-32], ${(dstLast << 24) | 10}
mov %r1, %r6
mov %r2, %r10
add %r2, -64
mov %r3, ${plen}
mov %r4, ${flags}
call 69
ldxw %r7, [%r10-56]
lsh %r7, 8
or %r0, %r7
ldxb %r7, [%r10-1]
lsh %r7, 16
or %r0, %r7
exit`;
}

describe('bpf_fib_lookup', () => {
  const ETH1 = { ...LOOPBACK, ifindex: 3, name: 'eth1', mtu: 1500 };
  const datapath: DatapathHooks = {
    device: (i) => (i === 1 ? LOOPBACK : i === 3 ? ETH1 : undefined),
    cgroupClassid: () => 0,
    resolveMap: () => undefined,
    fibLookup: (q) => (q.dst[3] === 7 ? { ret: FibRet.SUCCESS, ifindex: 3, mtu: 1500, smac: Uint8Array.of(2, 0, 0, 0, 0, 3), dmac: Uint8Array.of(2, 0, 0, 0, 0, 0x77) } : { ret: FibRet.UNREACHABLE }),
  };
  const frame = new Uint8Array(64);
  const rows: Array<[string, string, DatapathHooks | undefined, number]> = [
    ['routed', fibProg(2, 1, 7, 64, 0), datapath, FibRet.SUCCESS | (3 << 8) | (0x77 << 16)],
    ['unreachable', fibProg(2, 1, 8, 64, 0), datapath, FibRet.UNREACHABLE | (1 << 8)],
    ['no routes at all', fibProg(2, 1, 7, 64, 0), undefined, FibRet.NOT_FWDED | (1 << 8)],
    ['short params', fibProg(2, 1, 7, 63, 0), datapath, (-22 >>> 0) | (1 << 8)],
    ['unknown flag', fibProg(2, 1, 7, 64, 0x40), datapath, (-22 >>> 0) | (1 << 8)],
    ['bad family', fibProg(7, 1, 7, 64, 0), datapath, (-97 >>> 0) | (1 << 8)],
    ['unknown device', fibProg(2, 9, 7, 64, 0), datapath, (-19 >>> 0) | (9 << 8)],
  ];
  it.each(rows)('%s', (_n, asm, dp, want) => {
    const r = runner(asm, dp).run({ data: frame });
    expect(r.fault).toBeUndefined();
    expect(r.retval).toBe(want >>> 0);
  });
});

describe('packet bounds', () => {
  it('xdp_adjust_tail stops at the shared info and at ETH_HLEN', () => {
    // r0 = adjust_tail(P) with P from the frame's first byte scaled: here fixed per program.
    const tail = (d: number): string => `mov %r2, ${d}\ncall 65\nexit`;
    // 64-byte frame at offset 256: the hard end is 4096 - 320 = 3776, so +3456 fits, +3457 does not.
    expect(runner(tail(3456)).run({ data: new Uint8Array(64) }).retval).toBe(0);
    expect(runner(tail(3457)).run({ data: new Uint8Array(64) }).retval).toBe(-22 >>> 0);
    expect(runner(tail(-50)).run({ data: new Uint8Array(64) }).retval).toBe(0);
    expect(runner(tail(-51)).run({ data: new Uint8Array(64) }).retval).toBe(-22 >>> 0);
  });

  it('a packet pointer kept across xdp_adjust_head faults when it falls outside the new bounds', () => {
    const asm = `mov %r6, %r1
ldxw %r7, [%r1+0]
mov %r2, 14
call 44
ldxb %r0, [%r7+0]
exit`;
    const r = runner(asm).run({ data: new Uint8Array(64) });
    expect(r.fault?.code).toBe(FaultCode.MemoryAccess);
  });
});
