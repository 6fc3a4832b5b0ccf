/**
 * sim — a benchmark program loaded into xdpsim the way `--mode test-run` runs it: the object
 * through the object loader (maps created, lddw patched), every helper of its program type bound
 * (deterministic services), tail calls resolved through the registry, and the hook buffer set up
 * once with the frame — an xdp_buff (src/hooks/xdp.ts) for XDP, an sk_buff after eth_type_trans
 * with the MAC header pushed back (as bpf_prog_test_run_skb does) for TC. Like the kernel's repeat
 * loop, runs do not restore the frame; each TC run syncs __sk_buff in and out (pushCtx/pullCtx),
 * as xdpsim's TC hook does for every packet.
 */
import { loadObject } from '../src/object/instantiate.js';
import { createRunEnv } from '../src/vm/run.js';
import { getEngine } from '../src/vm/engines.js';
import type { RunResult } from '../src/vm/program.js';
import { makeHelperTable, BpfProgType } from '../src/helpers/table.js';
import { deterministicServices } from '../src/helpers/services.js';
import { makeTailCallResolver } from '../src/helpers/tail-call.js';
import { packetHelperDefs } from '../src/helpers/skb.js';
import { hookPacketBytes, type SkbHookState, type XdpHookState } from '../src/hooks/state.js';
import { LOOPBACK_IFINDEX, loopbackDatapath, newRedirectInfo } from '../src/hooks/datapath.js';
import { ETH_HLEN, XDP_PACKET_HEADROOM, XdpBuff } from '../src/hooks/xdp.js';
import { SkBuff } from '../src/hooks/skb.js';
import { XDP_TEST_MAX_LINEAR } from '../src/hooks/testrun.js';

/** SimProgram is one program ready to run back to back on one frame. */
export interface SimProgram {
  /** run executes the program once on the loaded frame. */
  run(): RunResult;
}

/** loadSimProgram loads `func` of the object at `path` on `engineName` with `frame` in its hook buffer. */
export function loadSimProgram(path: string, func: string, engineName: string, frame: Uint8Array): SimProgram {
  const obj = loadObject(path, { cpus: 1 });
  const engine = getEngine(engineName);
  const spec = obj.programs.get(func);
  if (spec === undefined) throw new Error(`bench: ${path} has no program ${func} (has ${[...obj.programs.keys()].join(', ')})`);
  let exe;
  for (const [name, s] of obj.programs) {
    const e = engine.prepare(s);
    obj.registry.registerProgram(name, e);
    if (name === func) exe = e;
  }
  if (exe === undefined) throw new Error(`bench: ${func} was not prepared`);
  const services = { ...deterministicServices(), packetBytes: hookPacketBytes };
  const helpers = makeHelperTable(obj.registry, services, { license: spec.license, progType: spec.progType, extra: packetHelperDefs() });
  const env = createRunEnv(obj.mem, { helpers, tailCall: makeTailCallResolver(obj.registry) });
  env.cpu = 0;
  const datapath = loopbackDatapath((h) => obj.registry.byHandle(h));
  const prog = exe;

  if (spec.progType === BpfProgType.XDP) {
    if (frame.length > XDP_TEST_MAX_LINEAR) throw new RangeError(`bench: ${frame.length}-byte frame exceeds the linear XDP buffer`);
    const xdp = new XdpBuff(obj.mem);
    xdp.load(frame, XDP_PACKET_HEADROOM, XDP_TEST_MAX_LINEAR);
    const state: XdpHookState = { kind: 'xdp', xdp, datapath, redirect: newRedirectInfo() };
    env.hook = state;
    const ctx = xdp.ctxAddr;
    return { run: () => prog.run(env, ctx) };
  }
  if (spec.progType === BpfProgType.SCHED_CLS || spec.progType === BpfProgType.SCHED_ACT) {
    const dev = datapath.device(LOOPBACK_IFINDEX);
    if (dev === undefined) throw new Error('bench: the loopback datapath has no lo');
    const skb = new SkBuff(obj.mem, dev);
    skb.reset(frame, { dev, hasSocket: true, atIngress: false });
    skb.ethTypeTrans();
    skb.networkHeader = skb.dataOff;
    skb.push(ETH_HLEN);
    const state: SkbHookState = { kind: 'skb', skb, datapath, redirect: newRedirectInfo() };
    env.hook = state;
    return {
      run: () => {
        skb.pushCtx();
        const r = prog.run(env, skb.ctxAddr);
        skb.pullCtx();
        return r;
      },
    };
  }
  throw new Error(`bench: ${func} has program type ${spec.progType}, not XDP or TC`);
}
