/**
 * results-lines — `replay --results` lines: resultLine (the per-frame path, text that repeats
 * rendered once per way a frame ended and copied as bytes) writes exactly what resultText (the
 * whole line as text) writes, for random results: every disposition, faults, hops, where/why
 * text with quotes and non-ASCII, zero, one and several copies out, AF_XDP slots, named
 * captures, numbers across 2^31, and the same shape returning after many others.
 */
import { describe, expect, it } from 'vitest';
import { LineBuffer, resultLine, resultText } from '../../src/cli/commands/replay.js';
import type { FrameResult, HookRun, OutFrame } from '../../src/datapath/accounting.js';
import type { Frame } from '../../src/io/frames.js';
import { FaultCode } from '../../src/vm/fault.js';

function seeded(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

function frameOf(len: number, index: number): Frame {
  return { data: Uint8Array.from({ length: len }, (_, i) => (i * 13 + index) & 0xff), origLen: len, tsSec: 1, tsNsec: 2, interfaceIndex: 0, linkType: 1, index, fileOffset: 0 };
}

function randomResult(rnd: () => number): FrameResult {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const hooks: HookRun[] = [];
  const nHooks = pick([0, 1, 1, 2]);
  for (let i = 0; i < nHooks; i++) {
    const faulted = rnd() < 0.1;
    hooks.push({
      hook: pick(['xdp', 'tc-ingress', 'tc-egress']),
      iface: pick(['eth0', 'eth1']),
      program: pick(['xdp_fw', 'prog "q"', 'прог']),
      retval: pick([0, 1, 2, 3, 4, 0xffffffff]),
      verdict: pick(['XDP_PASS', 'XDP_DROP', 'TC_ACT_OK']),
      ...(faulted ? { fault: { code: FaultCode.Budget, program: 'p', insn: 7, message: 'budget "x" exhausted ✗', ...(rnd() < 0.5 ? { source: 'a.c:1:2' } : {}) } } : {}),
    });
  }
  const out: OutFrame[] = [];
  const nOut = pick([0, 1, 1, 1, 2]);
  for (let i = 0; i < nOut; i++) out.push({ iface: pick(['eth0', 'eth1', 'host']), data: frameOf(Math.floor(rnd() * 80), i).data, ...(rnd() < 0.2 ? { xsk: 3 } : {}) });
  const why = rnd() < 0.4;
  return {
    iface: pick(['eth0', 'eth1']),
    queue: pick([0, 1, 3]),
    cpu: 0,
    hooks,
    disposition: pick(['drop', 'host', 'tx', 'redirect', 'xsk', 'aborted']),
    ...(why ? { at: pick(['xdp', 'redirect']), reason: pick(['XDP_DROP', 'no "route"', 'loop ↻']) } : {}),
    out,
    hops: pick([0, 0, 2]),
  } as FrameResult;
}

function render(fn: typeof resultLine, cases: ReadonlyArray<[number, Frame, FrameResult, string | undefined]>): string {
  const b = new LineBuffer(64);
  for (const [index, frame, r, file] of cases) fn(b, index, frame, r, file);
  return Buffer.from(b.take()).toString('utf8');
}

describe('replay --results lines', () => {
  it('resultLine writes what resultText writes, over random results, shapes and numbers', () => {
    const rnd = seeded(7);
    const shapes = Array.from({ length: 40 }, () => randomResult(rnd));
    const cases: Array<[number, Frame, FrameResult, string | undefined]> = [];
    const indexes = [0, 9, 10, 2 ** 31 - 1, 2 ** 31, 2 ** 40 + 3];
    for (let i = 0; i < 3000; i++) {
      const r = shapes[Math.floor(rnd() * (i < 1500 ? 4 : shapes.length))];
      const index = i < indexes.length ? indexes[i] : i;
      cases.push([index, frameOf(Math.floor(rnd() * 100), i % 7 === 0 ? 2 ** 31 + i : i), r, rnd() < 0.3 ? `cap "${i % 3}".pcap` : undefined]);
    }
    const want = render(resultText, cases);
    expect(render(resultLine, cases)).toBe(want);
    for (const line of want.trimEnd().split('\n')) JSON.parse(line);
  });
});
