/**
 * bpf_l3_csum_replace and bpf_l4_csum_replace against a reference written from the kernel's
 * functions (include/net/checksum.h csum_replace2/4 and csum_replace_by_diff, net/core/utils.c
 * inet_proto_csum_replace4 / _by_diff) over src/hooks/csum.ts's primitives, which
 * test/hooks/csum.test.ts checks against the kernel. The helpers do the 32-bit one's complement
 * sums in place on int32; this walks every flag combination, every skb->ip_summed state and the
 * edge values of the checksum (0, 0xffff: the two zeros) and of from / to (sign bits, all ones),
 * plus seeded random ones, and compares the bytes, skb->csum and the return value.
 */
import { describe, expect, it } from 'vitest';
import { Memory } from '../../src/vm/memory.js';
import { createRunEnv } from '../../src/vm/run.js';
import type { RunEnv } from '../../src/vm/program.js';
import { ChecksumState, SkBuff } from '../../src/hooks/skb.js';
import { loopbackDatapath, newRedirectInfo, LOOPBACK_IFINDEX } from '../../src/hooks/datapath.js';
import type { SkbHookState } from '../../src/hooks/state.js';
import { E, l3CsumReplace, l4CsumReplace } from '../../src/helpers/skb.js';
import { csumAdd, csumFold, csumReplace2, csumReplace4, csumReplaceByDiff, csumSub } from '../../src/hooks/csum.js';

const PSEUDO = 0x10;
const MANGLED_0 = 0x20;
const ENFORCE = 0x40;
const IPV6 = 0x80;

/** SkbState is what the reference and the helper both see and change. */
interface SkbState {
  sum: number;
  ipSummed: number;
  csum: number;
}

/** refL3 is bpf_l3_csum_replace on the __sum16 (memory order) once offset checks passed. */
function refL3(s: SkbState, fromLo: number, fromHi: number, to: number, flags: number): number {
  if ((flags & ~0xf) !== 0) return -E.EINVAL;
  switch (flags) {
    case 0:
      if (fromLo !== 0 || fromHi !== 0) return -E.EINVAL;
      s.sum = csumReplaceByDiff(s.sum, to >>> 0);
      return 0;
    case 2:
      s.sum = csumReplace2(s.sum, fromLo & 0xffff, to & 0xffff);
      return 0;
    case 4:
      s.sum = csumReplace4(s.sum, fromLo >>> 0, to >>> 0);
      return 0;
    default:
      return -E.EINVAL;
  }
}

/** refProto4 is inet_proto_csum_replace4: csum_partial of { ~from, to } seeded with the unfolded sum. */
function refProto4(s: SkbState, from: number, to: number, pseudo: boolean): void {
  const nfrom = ~from >>> 0;
  if (s.ipSummed !== ChecksumState.PARTIAL) {
    s.sum = csumFold(csumAdd(csumAdd(~s.sum >>> 0, nfrom), to >>> 0));
    if (s.ipSummed === ChecksumState.COMPLETE && pseudo) s.csum = ~csumAdd(csumAdd(~s.csum >>> 0, nfrom), to >>> 0) >>> 0;
  } else if (pseudo) {
    s.sum = ~csumFold(csumAdd(csumAdd(s.sum, nfrom), to >>> 0)) & 0xffff;
  }
}

/** refL4 is bpf_l4_csum_replace once the offset checks passed. */
function refL4(s: SkbState, fromLo: number, fromHi: number, to: number, flags: number): number {
  if ((flags & ~(MANGLED_0 | ENFORCE | PSEUDO | 0xf | IPV6)) !== 0) return -E.EINVAL;
  const pseudo = (flags & PSEUDO) !== 0;
  const mmzero = (flags & MANGLED_0) !== 0;
  if (mmzero && (flags & ENFORCE) === 0 && s.sum === 0) return 0;
  switch (flags & 0xf) {
    case 0:
      if (fromLo !== 0 || fromHi !== 0) return -E.EINVAL;
      if (s.ipSummed !== ChecksumState.PARTIAL) {
        s.sum = csumReplaceByDiff(s.sum, to >>> 0);
        if (s.ipSummed === ChecksumState.COMPLETE && pseudo && (flags & IPV6) === 0) s.csum = ~csumSub(to >>> 0, s.csum) >>> 0;
      } else if (pseudo) {
        s.sum = ~csumFold(csumAdd(to >>> 0, s.sum)) & 0xffff;
      }
      break;
    case 2:
      refProto4(s, fromLo & 0xffff, to & 0xffff, pseudo);
      break;
    case 4:
      refProto4(s, fromLo, to, pseudo);
      break;
    default:
      return -E.EINVAL;
  }
  if (mmzero && s.sum === 0) s.sum = 0xffff;
  return 0;
}

/** Rig is one skb (a 64-byte frame, the checksum at offset 24) and a run env whose hook is it. */
interface Rig {
  env: RunEnv;
  skb: SkBuff;
}

function rig(): Rig {
  const mem = new Memory();
  const env = createRunEnv(mem);
  const datapath = loopbackDatapath(() => undefined);
  const dev = datapath.device(LOOPBACK_IFINDEX);
  if (dev === undefined) throw new Error('no loopback device');
  const skb = new SkBuff(mem, dev);
  skb.reset(new Uint8Array(64), { dev });
  skb.pushCtx();
  const state: SkbHookState = { kind: 'skb', skb, datapath, redirect: newRedirectInfo() };
  env.hook = state;
  return { env, skb };
}

const OFF = 24;

/** call runs `helper` with r2 = OFF, r3 = from (two halves), r4 = to, r5 = flags on state `s`. */
function call(r: Rig, helper: (env: RunEnv) => number, s: SkbState, fromLo: number, fromHi: number, to: number, flags: number): [number, SkbState] {
  const { env, skb } = r;
  const u8 = skb.mem.u8;
  const at = skb.data + OFF;
  u8[at] = s.sum & 0xff;
  u8[at + 1] = s.sum >>> 8;
  skb.ipSummed = s.ipSummed;
  skb.csum = s.csum;
  const R = env.regs;
  R.fill(0);
  R[2] = skb.ctxAddr;
  R[4] = OFF;
  R[6] = fromLo | 0;
  R[7] = fromHi | 0;
  R[8] = to | 0;
  R[9] = 0;
  R[10] = flags;
  const rc = helper(env);
  return [rc, { sum: u8[at] | (u8[at + 1] << 8), ipSummed: skb.ipSummed, csum: skb.csum >>> 0 }];
}

/** values returns edge values and seeded pseudo-random u32s (xorshift32). */
function values(seed: number, n: number): number[] {
  const out = [0, 1, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xc0000000, 0x40000000, 0xfffffffe, 0xffffffff, 0xabcd0007, 0x0300000a];
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.push(x >>> 0);
  }
  return out;
}

const SUMS = [0, 1, 0xffff, 0xfffe, 0x8000, 0x7fff, 0x00ff, 0xff00, 0x1234];
const STATES = [ChecksumState.NONE, ChecksumState.UNNECESSARY, ChecksumState.COMPLETE, ChecksumState.PARTIAL];
const L3_FLAGS = [0, 1, 2, 3, 4, 8, 0x10, 0x14];
const L4_FLAGS = [0, 2, 4, 1, 8, 0x10, 0x12, 0x14, 0x20, 0x22, 0x24, 0x62, 0x64, 0x34, 0x80, 0x90, 0x94, 0x100, 0x74];

describe('bpf_l3_csum_replace / bpf_l4_csum_replace', () => {
  it('give the reference checksum, skb->csum and return value for every flag, state and edge value', () => {
    const r = rig();
    const vals = values(0x9e3779b9, 12);
    let compared = 0;
    for (const [name, helper, ref, flagSet] of [
      ['l3', l3CsumReplace, refL3, L3_FLAGS],
      ['l4', l4CsumReplace, refL4, L4_FLAGS],
    ] as const) {
      for (const flags of flagSet) {
        for (const ipSummed of STATES) {
          for (const sum of SUMS) {
            for (const [i, from] of vals.entries()) {
              const to = vals[(i * 7 + 3) % vals.length];
              const csum = vals[(i * 5 + 1) % vals.length];
              for (const fromHi of [0, 1]) {
                // A size-0 call needs from == 0: try it both with the zero and with the value.
                for (const fromLo of flags % 16 === 0 ? [0, from] : [from]) {
                  const before: SkbState = { sum, ipSummed, csum };
                  const want = { ...before };
                  const wantRc = ref(want, fromLo, fromHi, to, flags);
                  const [rc, got] = call(r, helper, before, fromLo, fromHi, to, flags);
                  const label = `${name} flags=0x${flags.toString(16)} summed=${ipSummed} sum=0x${sum.toString(16)} from=0x${(fromLo >>> 0).toString(16)}/${fromHi} to=0x${(to >>> 0).toString(16)}`;
                  expect([rc, got], label).toEqual([wantRc, want]);
                  compared++;
                }
              }
            }
          }
        }
      }
    }
    expect(compared).toBeGreaterThan(10_000);
  });

  it('refuse offsets the kernel refuses: odd, above 0xffff, or past the packet (bpf_try_make_writable)', () => {
    const r = rig();
    for (const helper of [l3CsumReplace, l4CsumReplace]) {
      for (const [off, want] of [
        [1, -E.EFAULT],
        [62, 0],
        [63, -E.EFAULT],
        [64, -E.EFAULT],
        [0x10000, -E.EFAULT],
        [0xfffffffe, -E.EFAULT],
      ] as const) {
        const R = r.env.regs;
        R.fill(0);
        R[4] = off | 0;
        R[6] = 1;
        R[8] = 2;
        R[10] = 2;
        expect(helper(r.env), `offset ${off}`).toBe(want);
      }
    }
  });
});
