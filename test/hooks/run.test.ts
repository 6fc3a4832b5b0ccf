/** The pipeline-facing runners: XDP verdicts and buffers, the receive-path skb, TC chains. */
import { describe, expect, it } from 'vitest';
import { assemble } from '../../src/isa/asm/index.js';
import { Memory } from '../../src/vm/memory.js';
import { createRunEnv } from '../../src/vm/run.js';
import { getEngine } from '../../src/vm/engines.js';
import { packetHelperMap } from '../../src/helpers/skb.js';
import { LOOPBACK, loopbackDatapath, type NetDevice } from '../../src/hooks/datapath.js';
import { TcRunner, XdpRunner, XDP_MAX_FRAME } from '../../src/hooks/run.js';
import { XdpAction } from '../../src/hooks/xdp.js';
import { TcAction } from '../../src/hooks/tc.js';
import type { Executable } from '../../src/vm/program.js';

const ETH0: NetDevice = { ...LOOPBACK, ifindex: 2, name: 'eth0', mtu: 1500, mac: Uint8Array.of(2, 0, 0, 0, 0, 1), broadcast: new Uint8Array(6).fill(0xff) };

function setup(): { env: ReturnType<typeof createRunEnv>; prog: (asm: string) => Executable } {
  const env = createRunEnv(new Memory(), { helpers: packetHelperMap() });
  return { env, prog: (asm) => getEngine('interp').prepare({ name: 'p', insns: assemble(asm) }) };
}

function frame(type: number, body: number[]): Uint8Array {
  return Uint8Array.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, type >> 8, type & 0xff, ...body]);
}

describe('XdpRunner', () => {
  it('applies unknown return values as DROP and keeps the program value', () => {
    const { env, prog } = setup();
    const x = new XdpRunner(env, prog('mov %r0, 9\nexit'), loopbackDatapath());
    const v = x.run(frame(0x0800, new Array(50).fill(1)), { ifindex: 2, queue: 0 });
    expect(v.retval).toBe(9);
    expect(v.action).toBe(XdpAction.DROP);
  });

  it('returns metadata and the adjusted frame (adjust_meta -4, adjust_head +14)', () => {
    const { env, prog } = setup();
    const asm = `mov %r6, %r1
mov %r2, -4
call 54
mov %r1, %r6
mov %r2, 14
call 44
mov %r0, 2
exit`;
    const f = frame(0x0800, Array.from({ length: 50 }, (_, i) => i));
    const v = new XdpRunner(env, prog(asm), loopbackDatapath()).run(f, { ifindex: 2, queue: 0 });
    expect(v.action).toBe(XdpAction.PASS);
    expect(v.frame).toEqual(f.slice(14));
    expect(v.meta.length).toBe(4);
  });
});

describe('XdpRunner limits', () => {
  it('drops, without running the program, a frame larger than a multi-buffer xdp_buff', () => {
    const { env, prog } = setup();
    const x = new XdpRunner(env, prog('mov %r0, 2\nexit'), loopbackDatapath());
    expect(x.run(new Uint8Array(XDP_MAX_FRAME), { ifindex: 2, queue: 0 }).action).toBe(XdpAction.PASS);
    const v = x.run(new Uint8Array(XDP_MAX_FRAME + 1), { ifindex: 2, queue: 0 });
    expect(v.action).toBe(XdpAction.DROP);
    expect(v.refused).toBeDefined();
  });
});

describe('TcRunner', () => {
  it('untags an outer VLAN tag on receive and shows it as vlan_present / vlan_tci', () => {
    const { env, prog } = setup();
    const tc = new TcRunner(env, loopbackDatapath(), ETH0);
    // r0 = vlan_present << 16 | vlan_tci; also check the program sees the MAC header at data.
    const asm = `ldxw %r2, [%r1+20]
lsh %r2, 16
ldxw %r3, [%r1+24]
or %r2, %r3
mov %r0, %r2
exit`;
    const f = frame(0x8100, [0x20, 0x05, 0x08, 0x00, 0x45, ...new Array(40).fill(0)]);
    tc.receive(f, { dev: ETH0 });
    const v = tc.ingress([prog(asm)]);
    expect(v.retval).toBe((1 << 16) | 0x2005);
    expect(v.action).toBe(TcAction.UNSPEC);
    expect(v.frame).toEqual(Uint8Array.from([...f.slice(0, 12), 0x08, 0x00, ...f.slice(18)]));
  });

  it('keeps XDP metadata in front of the MAC header, VLAN tag or not', () => {
    const { env, prog } = setup();
    const tc = new TcRunner(env, loopbackDatapath(), ETH0);
    // r0 = *(u32 *)data_meta if data_meta + 4 <= data, else 0xdead; the frame must be intact.
    const asm = `ldxw %r2, [%r1+140]
ldxw %r3, [%r1+76]
mov %r0, 0xdead
mov %r4, %r2
add %r4, 4
jgt %r4, %r3, out
ldxw %r0, [%r2+0]
out:
exit`;
    for (const f of [frame(0x0800, [0x45, ...new Array(40).fill(7)]), frame(0x8100, [0x00, 0x09, 0x08, 0x00, 0x45, ...new Array(40).fill(7)])]) {
      tc.receive(f, { dev: ETH0, meta: Uint8Array.of(0x11, 0x22, 0x33, 0x44) });
      const v = tc.ingress([prog(asm)]);
      expect(v.retval).toBe(0x44332211);
      expect(Array.from(v.frame.slice(0, 14))).toEqual([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]);
    }
  });

  it('stops the chain at the first action other than UNSPEC', () => {
    const { env, prog } = setup();
    const tc = new TcRunner(env, loopbackDatapath(), ETH0);
    tc.receive(frame(0x0806, new Array(28).fill(0)), { dev: ETH0 });
    const v = tc.ingress([prog('mov %r0, 3\nexit'), prog('mov %r0, 2\nexit'), prog('mov %r0, 0\nexit')]);
    expect(v.retval).toBe(2);
    expect(v.action).toBe(TcAction.SHOT);
  });

  it('gives ingress programs the frame from the MAC header and the receiving device', () => {
    const { env, prog } = setup();
    const tc = new TcRunner(env, loopbackDatapath(), ETH0);
    tc.receive(frame(0x0806, new Array(28).fill(0)), { dev: ETH0 });
    // r0 = len << 16 | ingress_ifindex << 8 | pkt_type
    const asm = `ldxw %r2, [%r1+0]
lsh %r2, 16
ldxw %r3, [%r1+36]
lsh %r3, 8
or %r2, %r3
ldxw %r3, [%r1+4]
or %r2, %r3
mov %r0, %r2
exit`;
    expect(tc.ingress([prog(asm)]).retval).toBe((42 << 16) | (2 << 8) | 0);
  });
});
