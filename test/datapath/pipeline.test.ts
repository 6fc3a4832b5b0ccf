/**
 * The pipeline, verdict by verdict: XDP metadata reaching TC, TX and every kind of XDP redirect,
 * TC redirects to egress / ingress / a peer / a neighbour, TC egress on redirected skbs, VLAN
 * offload on and off, every TC_ACT value as cls_bpf maps it, the redirect loop guard.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OBJ, build, le32, udpFrame, MAC0 } from './support.js';
import { Disposition } from '../../src/datapath/accounting.js';
import { DEFAULT_MAX_HOPS } from '../../src/datapath/pipeline.js';
import { engineNames } from '../../src/vm/engines.js';

const BPF_F_INGRESS = 1;

describe.each(engineNames())('pipeline on %s', (engine) => {
  it('keeps XDP metadata for TC (data_meta) and runs TC ingress after XDP_PASS', () => {
    const t = build(['eth0'], { xdp: [`${OBJ}:xdp_meta`], tcIngress: [`${OBJ}:tc_act`] }, { engine });
    const f = udpFrame();
    const r = t.run(f);
    expect(r.hooks.map((h) => [h.hook, h.program, h.verdict])).toEqual([
      ['xdp', 'xdp_meta', 'XDP_PASS'],
      ['tc-ingress', 'tc_act', 'TC_ACT_OK'],
    ]);
    expect(t.get('seen', 0)).toBe(0xfeedbeef);
    expect(r.disposition).toBe(Disposition.HOST);
    expect(r.out).toHaveLength(1);
    expect(r.out[0].iface).toBe('eth0');
    expect(r.out[0].data).toEqual(f);
  });

  it('sends XDP_TX back out of the receiving interface', () => {
    const t = build(['eth0', 'eth1'], { xdp: [`${OBJ}:xdp_act`] }, { engine });
    t.set('cfg', 0, 3);
    const f = udpFrame();
    const r = t.run(f, 'eth1');
    expect(r.disposition).toBe(Disposition.TX);
    expect(r.out.map((o) => o.iface)).toEqual(['eth1']);
    expect(r.out[0].data).toEqual(f);
  });

  it('sends XDP_REDIRECT by ifindex out of the target without TC egress', () => {
    const t = build(['eth0', 'eth1'], { xdp: [`${OBJ}:xdp_act@eth0`], tcEgress: [`${OBJ}:tc_egress`] }, { engine });
    t.set('cfg', 0, 4);
    t.set('cfg', 1, t.ifindex('eth1'));
    const r = t.run(udpFrame());
    expect(r.disposition).toBe(Disposition.REDIRECT);
    expect(r.out.map((o) => o.iface)).toEqual(['eth1']);
    expect(t.get('eg_runs', t.ifindex('eth1'))).toBe(0);
    t.set('cfg', 1, 77);
    const bad = t.run(udpFrame());
    expect([bad.disposition, bad.at]).toEqual([Disposition.DROP, 'xdp-redirect']);
  });

  it('redirects through a devmap, and broadcasts excluding the ingress interface', () => {
    const t = build(['eth0', 'eth1', 'eth2'], { xdp: [`${OBJ}:xdp_act@eth0`] }, { engine });
    t.set('cfg', 0, 10);
    // An empty slot: bpf_redirect_map returns the fallback action of its flags, 0 = XDP_ABORTED.
    const empty = t.run(udpFrame());
    expect([empty.hooks[0].verdict, empty.disposition]).toEqual(['XDP_ABORTED', Disposition.ABORTED]);
    t.set('devs', 0, t.ifindex('eth2'));
    expect(t.run(udpFrame()).out.map((o) => o.iface)).toEqual(['eth2']);
    t.set('devs', 1, t.ifindex('eth0'));
    t.set('devs', 2, t.ifindex('eth1'));
    t.set('cfg', 0, 11);
    const b = t.run(udpFrame());
    expect(b.disposition).toBe(Disposition.REDIRECT);
    expect(b.out.map((o) => o.iface).sort()).toEqual(['eth1', 'eth2']);
  });

  it('runs a devmap entry program (egress_ifindex set) before the frame leaves, and a cpumap entry program before the stack', () => {
    const t = build(['eth0', 'eth1'], { xdp: [`${OBJ}:xdp_act@eth0`], tcIngress: [`${OBJ}:tc_pass@eth0`] }, { engine, cpus: 2 });
    const reg = t.dp.programs.loaded()[0].registry;
    const devId = reg.programByName('xdp_devmap')?.id ?? 0;
    const cpuId = reg.programByName('xdp_cpumap')?.id ?? 0;
    const dv = new Uint8Array(8);
    dv.set(le32(t.ifindex('eth1')));
    dv.set(le32(devId), 4);
    t.set('devs_prog', 0, dv);
    t.set('cfg', 0, 14);
    const r = t.run(udpFrame());
    expect(r.hooks.map((h) => `${h.hook}@${h.iface}:${h.program}:${h.verdict}`)).toEqual(['xdp@eth0:xdp_act:XDP_REDIRECT', 'xdp-devmap@eth1:xdp_devmap:XDP_PASS']);
    expect(t.get('seen', 7)).toBe(t.ifindex('eth1'));
    expect(r.out.map((o) => [o.iface, o.data[11]])).toEqual([['eth1', 0xdd]]);
    const cv = new Uint8Array(8);
    cv.set(le32(64));
    cv.set(le32(cpuId), 4);
    t.set('cpus', 1, cv);
    t.set('cfg', 0, 12);
    const c = t.run(udpFrame());
    expect(c.hooks.map((h) => `${h.hook}:${h.program}:${h.verdict}`)).toEqual(['xdp:xdp_act:XDP_REDIRECT', 'xdp-cpumap:xdp_cpumap:XDP_PASS', 'tc-ingress:tc_pass:TC_ACT_UNSPEC']);
    expect([c.disposition, c.cpu]).toEqual([Disposition.HOST, 1]);
    t.set('cfg', 5, 1);
    expect(t.run(udpFrame()).disposition).toBe(Disposition.DROP);
    t.set('cfg', 0, 14);
    expect(t.run(udpFrame()).disposition).toBe(Disposition.DROP);
  });

  it('refuses a frame longer than the redirect target MTU (xdp_ok_fwd_dev)', () => {
    const t = build(['eth0', 'eth1,mtu=100'], { xdp: [`${OBJ}:xdp_act@eth0`] }, { engine });
    t.set('cfg', 0, 4);
    t.set('cfg', 1, t.ifindex('eth1'));
    expect(t.run(udpFrame({ payload: 60 })).disposition).toBe(Disposition.REDIRECT);
    expect(t.run(udpFrame({ payload: 100 })).disposition).toBe(Disposition.DROP);
  });

  it('delivers to an AF_XDP socket bound to the queue, with the fallback action on an empty slot', () => {
    const t = build(['eth0'], { xdp: [`${OBJ}:xdp_act`] }, { engine });
    t.set('cfg', 0, 13);
    expect(t.run(udpFrame()).disposition).toBe(Disposition.HOST);
    t.set('xsks', 0, 0);
    const r = t.run(udpFrame());
    expect(r.disposition).toBe(Disposition.XSK);
    expect(r.out[0].xsk).toBe(0);
    t.set('xsks', 0, 1);
    expect(t.run(udpFrame()).disposition).toBe(Disposition.DROP);
  });

  it('continues a cpumap redirect as XDP_PASS on the target CPU', () => {
    const t = build(['eth0'], { xdp: [`${OBJ}:xdp_act`], tcIngress: [`${OBJ}:tc_act`] }, { engine, cpus: 2 });
    t.set('cfg', 0, 12);
    expect(t.run(udpFrame()).disposition).toBe(Disposition.ABORTED);
    const v = new Uint8Array(8);
    v.set(le32(256));
    t.set('cpus', 1, v);
    const r = t.run(udpFrame());
    expect(r.cpu).toBe(1);
    expect(r.disposition).toBe(Disposition.HOST);
    expect(r.hooks.map((h) => h.hook)).toEqual(['xdp', 'tc-ingress']);
  });

  it('runs the target TC egress on a TC redirect to egress, keeping the mark', () => {
    const t = build(['eth0', 'eth1'], { tcIngress: [`${OBJ}:tc_act@eth0`], tcEgress: [`${OBJ}:tc_egress`] }, { engine });
    t.set('cfg', 2, 7);
    t.set('cfg', 3, t.ifindex('eth1'));
    const f = udpFrame();
    const r = t.run(f);
    expect(r.hooks.map((h) => `${h.hook}@${h.iface}:${h.verdict}`)).toEqual(['tc-ingress@eth0:TC_ACT_REDIRECT', 'tc-egress@eth1:TC_ACT_OK']);
    expect(r.disposition).toBe(Disposition.REDIRECT);
    expect(r.out.map((o) => o.iface)).toEqual(['eth1']);
    expect(r.out[0].data).toEqual(f);
    expect(t.get('eg_runs', t.ifindex('eth1'))).toBe(1);
    expect(t.get('seen', 6)).toBe(42);
    // TC egress may drop it.
    t.set('cfg', 5, 2);
    const d = t.run(f);
    expect([d.disposition, d.at]).toEqual([Disposition.DROP, 'tc-egress@eth1']);
  });

  it('re-enters the target ingress with BPF_F_INGRESS (eth_type_trans against the target)', () => {
    const t = build(['eth0', 'eth1'], { tcIngress: [`${OBJ}:tc_act@eth0`, `${OBJ}:tc_pass@eth1`] }, { engine });
    t.set('cfg', 2, 7);
    t.set('cfg', 3, t.ifindex('eth1'));
    t.set('cfg', 4, BPF_F_INGRESS);
    const r = t.run(udpFrame());
    expect(r.hooks.map((h) => `${h.hook}@${h.iface}`)).toEqual(['tc-ingress@eth0', 'tc-ingress@eth1']);
    expect(r.disposition).toBe(Disposition.HOST);
    expect(r.out.map((o) => o.iface)).toEqual(['eth1']);
  });

  it('stops redirect loops at the hop limit', () => {
    const t = build(['eth0', 'eth1'], { tcIngress: [`${OBJ}:tc_act`] }, { engine });
    t.set('cfg', 2, 7);
    t.set('cfg', 3, t.ifindex('eth1'));
    t.set('cfg', 4, BPF_F_INGRESS);
    const r = t.run(udpFrame());
    expect(r.disposition).toBe(Disposition.LOOP);
    expect(r.hops).toBe(DEFAULT_MAX_HOPS + 1);
    expect(t.get('ing_runs', t.ifindex('eth1'))).toBe(DEFAULT_MAX_HOPS);
    const short = build(['eth0', 'eth1'], { tcIngress: [`${OBJ}:tc_act`] }, { engine, maxHops: 3 });
    short.set('cfg', 2, 7);
    short.set('cfg', 3, short.ifindex('eth1'));
    short.set('cfg', 4, BPF_F_INGRESS);
    expect(short.run(udpFrame()).hops).toBe(4);
  });

  it('redirects to a veth peer in another namespace (bpf_redirect_peer), not within one', () => {
    const t = build(['eth0', 'veth0,peer=veth1', 'veth1,peer=veth0,netns=ns1'], { tcIngress: [`${OBJ}:tc_act@eth0`, `${OBJ}:tc_pass@veth1`] }, { engine });
    t.set('cfg', 2, 100);
    t.set('cfg', 3, t.ifindex('veth0'));
    const r = t.run(udpFrame());
    expect(r.hooks.map((h) => `${h.hook}@${h.iface}`)).toEqual(['tc-ingress@eth0', 'tc-ingress@veth1']);
    expect(r.out.map((o) => o.iface)).toEqual(['veth1']);
    const same = build(['eth0', 'veth0,peer=veth1', 'veth1,peer=veth0'], { tcIngress: [`${OBJ}:tc_act@eth0`] }, { engine });
    same.set('cfg', 2, 100);
    same.set('cfg', 3, same.ifindex('veth0'));
    expect(same.run(udpFrame()).disposition).toBe(Disposition.DROP);
  });

  it('rebuilds the L2 header from the neighbour table on bpf_redirect_neigh', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xdpsim-dp-'));
    const topo = join(dir, 'topo.json');
    writeFileSync(
      topo,
      JSON.stringify({
        interfaces: [{ name: 'eth0' }, { name: 'eth1', mac: '02:00:00:00:00:aa' }],
        routes: [{ dst: '10.0.0.0/24', via: '10.0.0.254', dev: 'eth1' }],
        neighbours: [{ ip: '10.0.0.254', mac: '02:00:00:00:00:fe', dev: 'eth1' }],
      }),
    );
    const t = build([], { tcIngress: [`${OBJ}:tc_act@eth0`], tcEgress: [`${OBJ}:tc_egress@eth1`] }, { engine, topologyFile: topo });
    t.set('cfg', 2, 101);
    t.set('cfg', 3, t.ifindex('eth1'));
    const f = udpFrame();
    const r = t.run(f);
    expect(r.disposition).toBe(Disposition.REDIRECT);
    expect(r.out[0].iface).toBe('eth1');
    expect([...r.out[0].data.subarray(0, 12)]).toEqual([2, 0, 0, 0, 0, 0xfe, 2, 0, 0, 0, 0, 0xaa]);
    expect(r.out[0].data.subarray(12)).toEqual(f.subarray(12));
    expect(t.get('eg_runs', t.ifindex('eth1'))).toBe(1);
  });

  it('maps every TC_ACT value as cls_bpf and sch_handle_ingress do', () => {
    const t = build(['eth0'], { tcIngress: [`${OBJ}:tc_act`] }, { engine });
    // TC_ACT_* → where the frame ends (include/uapi/linux/pkt_cls.h, cls_bpf_exec_opcode, sch_handle_ingress).
    const table: Array<[number, string, string]> = [
      [0xffffffff, 'TC_ACT_UNSPEC', Disposition.HOST],
      [0, 'TC_ACT_OK', Disposition.HOST],
      [1, 'TC_ACT_UNSPEC', Disposition.HOST], // RECLASSIFY
      [2, 'TC_ACT_SHOT', Disposition.DROP],
      [3, 'TC_ACT_UNSPEC', Disposition.HOST], // PIPE
      [4, 'TC_ACT_STOLEN', Disposition.STOLEN],
      [5, 'TC_ACT_UNSPEC', Disposition.HOST], // QUEUED: not passed through by cls_bpf
      [6, 'TC_ACT_UNSPEC', Disposition.HOST], // REPEAT
      [7, 'TC_ACT_REDIRECT', Disposition.DROP], // bpf_redirect(0, 0): no device 0
      [8, 'TC_ACT_TRAP', Disposition.STOLEN],
      [42, 'TC_ACT_UNSPEC', Disposition.HOST],
    ];
    const got = table.map(([v]) => {
      t.set('cfg', 2, v);
      const r = t.run(udpFrame());
      return [v, r.hooks[0].verdict, r.disposition];
    });
    expect(got).toEqual(table);
  });

  it.each([
    ['off', 1],
    ['on', 0],
  ])('VLAN offload %s: XDP sees the tag only without offload; TC gets it accelerated either way', (mode, xdpSawTag) => {
    const t = build([`eth0,vlan-offload=${mode}`], { xdp: [`${OBJ}:xdp_vlan`], tcIngress: [`${OBJ}:tc_act`] }, { engine });
    const f = udpFrame({ vlan: 100 });
    const r = t.run(f);
    expect(t.get('seen', 4)).toBe(xdpSawTag);
    expect(t.get('seen', 1)).toBe(1);
    expect(t.get('seen', 2)).toBe(100);
    expect(t.get('seen', 3)).toBe(0x0800);
    expect(r.out[0].data).toEqual(f);
  });

  it('classifies pkt_type against the interface MAC', () => {
    const t = build(['eth0'], { tcIngress: [`${OBJ}:tc_act`] }, { engine });
    t.run(udpFrame());
    expect(t.get('seen', 5)).toBe(0);
    t.run(udpFrame({ dst: [0x02, 0, 0, 0, 0, 0x55] }));
    expect(t.get('seen', 5)).toBe(3);
    t.run(udpFrame({ dst: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff] }));
    expect(t.get('seen', 5)).toBe(1);
    expect(MAC0).toHaveLength(6);
  });

  it('drops XDP_DROP, aborted and unknown actions and runts at the right place', () => {
    const t = build(['eth0'], { xdp: [`${OBJ}:xdp_act`] }, { engine });
    const cases: Array<[number, string, string]> = [
      [0, Disposition.ABORTED, 'xdp'],
      [1, Disposition.DROP, 'xdp'],
      [9, Disposition.DROP, 'xdp'],
    ];
    for (const [a, d, at] of cases) {
      t.set('cfg', 0, a);
      const r = t.run(udpFrame());
      expect([a, r.disposition, r.at]).toEqual([a, d, at]);
    }
    t.set('cfg', 0, 2);
    const runt = t.run(new Uint8Array(10));
    expect([runt.disposition, runt.at]).toEqual([Disposition.DROP, 'stack']);
  });
});
