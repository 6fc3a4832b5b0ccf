/**
 * out-captures — DispositionCaptures (`replay --out`, `live --out`): comments and verdicts of
 * shared (Pipeline.count) and reused (Pipeline.process) results, frame after frame, and errors
 * naming the directory or capture that could not be created.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCapture } from '../../src/io/capture.js';
import { PcapngWriter } from '../../src/io/pcapng.js';
import { DispositionCaptures } from '../../src/cli/outputs.js';
import { Disposition, type FrameResult } from '../../src/datapath/accounting.js';
import { drain } from '../io/support.js';

const dir = mkdtempSync(join(tmpdir(), 'xdpsim-out-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('DispositionCaptures', () => {
  it('an output directory that cannot be created is E_OUTPUT naming it', () => {
    const blocker = join(dir, 'a-file');
    rmSync(blocker, { force: true });
    new PcapngWriter(blocker).closeSync();
    const bad = join(blocker, 'out');
    expect(() => new DispositionCaptures(bad, ['eth0'], 'replay')).toThrow(expect.objectContaining({ code: 'E_OUTPUT', fields: { file: bad } }));
  });

  it('a capture that cannot be created is CAPTURE_IO naming it', () => {
    const out = join(dir, 'ro');
    const dc = new DispositionCaptures(out, ['eth0'], 'replay');
    // A directory where the capture file should be: creating the file fails.
    new DispositionCaptures(join(out, 'drop.pcapng'), ['eth0'], 'replay');
    const r: FrameResult = { iface: 'eth0', queue: 0, cpu: 0, hooks: [], disposition: Disposition.DROP, at: 'xdp', reason: 'XDP_DROP', out: [], hops: 0, tally: undefined };
    expect(() => dc.frame(0, { data: new Uint8Array(60), origLen: 60, tsSec: 1, tsNsec: 0 }, r)).toThrow(expect.objectContaining({ code: 'CAPTURE_IO', fields: { file: 'drop.pcapng' } }));
  });

  it('writes the comments and verdicts of shared and unshared results alike, frame after frame', async () => {
    const out = join(dir, 'dc');
    const dc = new DispositionCaptures(out, ['eth0', 'eth1'], 'replay');
    const shared: FrameResult = { iface: 'eth0', queue: 0, cpu: 0, hooks: [{ hook: 'xdp', iface: 'eth0', program: 'p', retval: 2, verdict: 'XDP_PASS' }], disposition: Disposition.HOST, at: undefined, reason: undefined, out: [{ iface: 'eth0', data: new Uint8Array(64).fill(1) }], hops: 0, tally: 0 };
    const reused: FrameResult = { iface: 'eth0', queue: 0, cpu: 0, hooks: [], disposition: Disposition.DROP, at: undefined, reason: undefined, out: [], hops: 0, tally: undefined };
    const expected: string[] = [];
    for (let i = 0; i < 50; i++) {
      if (i % 3 === 0) {
        dc.frame(i, { data: new Uint8Array(64), origLen: 64, tsSec: 1_700_000_000, tsNsec: i }, shared);
        continue;
      }
      // One result object refilled per frame, as Pipeline.process does, with reasons built per frame.
      reused.hooks.length = 0;
      reused.hooks.push({ hook: 'tc-ingress', iface: 'eth1', program: 'q', retval: i % 2 === 0 ? 2 : 7, verdict: i % 2 === 0 ? 'TC_ACT_SHOT' : 'TC_ACT_REDIRECT' });
      reused.iface = i % 2 === 0 ? 'eth0' : 'eth1';
      reused.at = `tc-ingress@${reused.iface}`;
      reused.reason = `reason ${i % 4}`;
      dc.frame(i, { data: new Uint8Array(64), origLen: 64, tsSec: 1_700_000_000, tsNsec: i }, reused);
      expected.push(`frame ${i} on ${reused.iface}: tc-ingress q: ${reused.hooks[0].verdict} → drop (tc-ingress@${reused.iface}: reason ${i % 4})`);
    }
    await dc.close();
    const drops = await drain(readCapture(join(out, 'drop.pcapng')));
    expect(drops.frames.map((f) => f.comment)).toEqual(expected);
    expect(drops.frames.map((f) => f.interfaceIndex)).toEqual(expected.map((c) => (c.includes('on eth0') ? 0 : 1)));
    const host = await drain(readCapture(join(out, 'host.pcapng')));
    expect(host.frames.length).toBe(17);
    expect(host.frames[1].comment).toBe('frame 3 on eth0: xdp p: XDP_PASS → host via eth0');
    expect(host.frames[1].verdicts).toEqual([{ kind: 'xdp', value: 2 }]);
    expect(Array.from(host.frames[1].data)).toEqual(Array(64).fill(1));
  });
});
