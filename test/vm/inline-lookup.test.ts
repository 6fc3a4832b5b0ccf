/**
 * inline-lookup — the jit's JavaScript back end computes an ARRAY / PERCPU_ARRAY
 * bpf_map_lookup_elem inline (src/vm/inline-lookup.ts): map state and r0 must match the
 * interpreter, per CPU, and a run under another helper table must call that table's helper.
 */
import { describe, expect, it } from 'vitest';
import { loadObject } from '../../src/object/instantiate.js';
import { createRunEnv } from '../../src/vm/run.js';
import { getEngine } from '../../src/vm/engines.js';
import { jitBackEndOf, jitEngineWith } from '../../src/vm/compile/jit.js';
import { makeHelperTable } from '../../src/helpers/table.js';
import { deterministicServices } from '../../src/helpers/services.js';
import { XDP_PACKET_HEADROOM, XdpBuff } from '../../src/hooks/xdp.js';
import { XDP_TEST_MAX_LINEAR } from '../../src/hooks/testrun.js';
import { hookPacketBytes } from '../../src/hooks/state.js';
import type { Engine, RunEnv } from '../../src/vm/program.js';

const OBJ = 'programs/bench/parse_count.o';

function frame(proto: number): Uint8Array {
  const f = new Uint8Array(64);
  f[12] = 0x08;
  f[14] = 0x45;
  f[23] = proto;
  return f;
}

function setup(engine: Engine) {
  const obj = loadObject(OBJ, { cpus: 2 });
  const spec = obj.programs.get('xdp_parse_count');
  if (spec === undefined) throw new Error('no xdp_parse_count');
  const exe = engine.prepare(spec);
  const helpers = makeHelperTable(obj.registry, { ...deterministicServices(), packetBytes: hookPacketBytes }, { license: spec.license, progType: spec.progType });
  const env = createRunEnv(obj.mem, { helpers });
  const xdp = new XdpBuff(obj.mem);
  (env as RunEnv & { hook: unknown }).hook = { kind: 'xdp', xdp };
  const counts = obj.registry.byName('proto_count');
  if (counts === undefined) throw new Error('no proto_count');
  const run = (proto: number, cpu: number, e: RunEnv = env) => {
    xdp.load(frame(proto), XDP_PACKET_HEADROOM, XDP_TEST_MAX_LINEAR);
    e.cpu = cpu;
    return exe.run(e, xdp.ctxAddr);
  };
  return { obj, exe, env, run, counts, helpers };
}

describe('inline array lookup (jit js)', () => {
  it('matches the interpreter in r0, counts and per-CPU map state', () => {
    const js = setup(jitEngineWith('js'));
    const ref = setup(getEngine('interp'));
    expect(jitBackEndOf(js.exe)).toBe('js');
    const seq: Array<[number, number]> = [[17, 0], [17, 1], [6, 1], [255, 0], [0, 1], [17, 0], [6, 0]];
    for (let k = 0; k < 3; k++) {
      for (const [proto, cpu] of seq) {
        expect(js.run(proto, cpu)).toEqual(ref.run(proto, cpu));
      }
    }
    for (const key of [0, 6, 17, 255]) {
      const kb = new Uint8Array([key, 0, 0, 0]);
      expect(js.counts.lookup(kb)).toEqual(ref.counts.lookup(kb));
    }
    const per = js.counts.lookup(new Uint8Array([17, 0, 0, 0])) as Uint8Array[];
    expect(per.map((v) => v[0])).toEqual([6, 3]);
  });

  it('calls the helper of another helper table on the same memory', () => {
    const s = setup(jitEngineWith('js'));
    s.run(17, 0);
    s.run(17, 0);
    let calls = 0;
    const real = s.helpers.get(1);
    if (real === undefined) throw new Error('no lookup helper');
    const spy = new Map(s.helpers);
    spy.set(1, (env: RunEnv) => {
      calls++;
      return real(env);
    });
    const env2 = createRunEnv(s.obj.mem, { helpers: spy });
    (env2 as RunEnv & { hook: unknown }).hook = (s.env as RunEnv & { hook: unknown }).hook;
    s.run(17, 0, env2);
    s.run(17, 0, env2);
    expect(calls).toBe(2);
    const v = s.counts.lookup(new Uint8Array([17, 0, 0, 0])) as Uint8Array[];
    expect(v[0][0]).toBe(4);
  });
});
