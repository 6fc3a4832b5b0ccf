/**
 * Pipeline.count against Pipeline.process: a replay that reads only the counts gets shared
 * results for frames the XDP program alone decides, and Accounting must count them exactly as
 * the results process builds — the same keys, in the same first-seen order, the same numbers.
 */
import { describe, expect, it } from 'vitest';
import { OBJ, build, udpFrame } from './support.js';
import { Accounting, type FrameResult } from '../../src/datapath/accounting.js';
import type { HookFlags } from '../../src/datapath/setup.js';

/** counts lists everything an Accounting holds, in its own order. */
function counts(a: Accounting): unknown {
  return {
    framesIn: a.framesIn,
    bytesIn: a.bytesIn,
    dispositions: [...a.dispositions.entries()],
    verdicts: [...a.verdicts].map(([k, c]) => [k, [...c.entries()]]),
    framesOut: [...a.framesOut.entries()],
    delivered: [...a.delivered.entries()],
    dropReasons: [...a.dropReasons.entries()],
    faults: [...a.faults.values()].map((f) => ({ ...f })),
    balanced: a.balanced(),
  };
}

/** brief is what a result says about a frame's end, without its out bytes. */
function brief(r: FrameResult): unknown {
  return { d: r.disposition, at: r.at, reason: r.reason, hooks: r.hooks.map((h) => `${h.hook} ${h.iface} ${h.program} ${h.retval} ${h.verdict} ${h.fault !== undefined}`), out: r.out.map((o) => o.iface), queue: r.queue, cpu: r.cpu };
}

// XDP actions by frame: repeats of every counted action, an unknown one, a redirect without a target.
const ACTIONS = [2, 1, 2, 1, 0, 3, 9, 1, 2, 4, 3, 0, 9, 2, 2, 1];

function replay(hooks: Partial<HookFlags>, counted: boolean, vlanOffload = false): { acc: Accounting; briefs: unknown[] } {
  const t = build([vlanOffload ? 'eth0,queues=4,vlan-offload=on' : 'eth0,queues=4'], hooks, { cpus: 2 });
  const dev = t.dp.topology.interfaces[0];
  const acc = new Accounting();
  const briefs: unknown[] = [];
  let index = 0;
  for (let round = 0; round < 3; round++) {
    for (const a of ACTIONS) {
      t.set('cfg', 0, a);
      t.set('cfg', 2, 0);
      const frame = index % 5 === 4 ? new Uint8Array(10) : udpFrame({ payload: 18 + (index % 7), vlan: index % 3 === 0 ? 7 : undefined });
      const r = counted ? t.dp.pipeline.count(frame, dev) : t.dp.pipeline.process(frame, dev);
      briefs.push(brief(r));
      acc.add(index, frame.length, r);
      index++;
    }
  }
  return { acc, briefs };
}

describe('Pipeline.count', () => {
  for (const [name, hooks] of [
    ['XDP alone', { xdp: [`${OBJ}:xdp_act`] }],
    ['XDP and TC ingress', { xdp: [`${OBJ}:xdp_act`], tcIngress: [`${OBJ}:tc_act`] }],
  ] as const) {
    for (const vlan of [false, true]) {
      it(`ends and counts every frame as process does (${name}, vlan offload ${vlan ? 'on' : 'off'})`, () => {
        const a = replay(hooks, false, vlan);
        const b = replay(hooks, true, vlan);
        expect(b.briefs).toEqual(a.briefs);
        expect(counts(b.acc)).toEqual(counts(a.acc));
      });
    }
  }

  it('shares results only where the XDP program alone decides the frame', () => {
    const t = build(['eth0'], { xdp: [`${OBJ}:xdp_act`] });
    const dev = t.dp.topology.interfaces[0];
    t.set('cfg', 0, 1);
    const first = t.dp.pipeline.count(udpFrame(), dev);
    expect(first.tally).toBeDefined();
    expect(t.dp.pipeline.count(udpFrame({ payload: 40 }), dev)).toBe(first);
    t.set('cfg', 0, 9);
    expect(t.dp.pipeline.count(udpFrame(), dev).tally).toBeUndefined();
    t.set('cfg', 0, 2);
    expect(t.dp.pipeline.count(new Uint8Array(10), dev).tally).toBeUndefined();
  });
});
