/** Context access rules of xdp_md (xdp_is_valid_access) and __sk_buff for TC (tc_cls_act_is_valid_access). */
import { describe, expect, it } from 'vitest';
import { XdpMd, xdpCtxPolicy } from '../../src/hooks/xdp.js';
import { BpfSockField as S, SkBuffField as F, skbTcCtxPolicy, sockCommonPolicy } from '../../src/hooks/skb.js';

describe('xdp_md access', () => {
  const plain = xdpCtxPolicy(false);
  const devmap = xdpCtxPolicy(true);
  const rows: Array<[string, number, number, boolean, boolean, boolean]> = [
    // name, off, size, write, allowed (plain), allowed (devmap)
    ['data', XdpMd.data, 4, false, true, true],
    ['data_end', XdpMd.data_end, 4, false, true, true],
    ['data_meta', XdpMd.data_meta, 4, false, true, true],
    ['ingress_ifindex', XdpMd.ingress_ifindex, 4, false, true, true],
    ['rx_queue_index', XdpMd.rx_queue_index, 4, false, true, true],
    ['egress_ifindex', XdpMd.egress_ifindex, 4, false, false, true],
    ['narrow u8', XdpMd.ingress_ifindex, 1, false, false, false],
    ['narrow u16', XdpMd.ingress_ifindex, 2, false, false, false],
    ['u64', XdpMd.data, 8, false, false, false],
    ['misaligned', 2, 4, false, false, false],
    ['past the end', XdpMd.SIZE, 4, false, false, false],
    ['write data', XdpMd.data, 4, true, false, false],
    ['write rx_queue_index', XdpMd.rx_queue_index, 4, true, false, false],
  ];
  it.each(rows)('%s', (_n, off, size, write, a, b) => {
    expect(plain(off, size, write)).toBe(a);
    expect(devmap(off, size, write)).toBe(b);
  });
});

describe('__sk_buff access for SCHED_CLS/SCHED_ACT', () => {
  const p = skbTcCtxPolicy();
  const rows: Array<[string, number, number, boolean, boolean]> = [
    ['read len', F.len, 4, false, true],
    ['narrow read len byte 3', F.len + 3, 1, false, true],
    ['narrow read protocol u16', F.protocol, 2, false, true],
    ['misaligned u16', F.len + 1, 2, false, false],
    ['u64 read of len', F.len, 8, false, false],
    ['write len', F.len, 4, true, false],
    ['write mark', F.mark, 4, true, true],
    ['narrow write mark', F.mark, 1, true, false],
    ['write priority', F.priority, 4, true, true],
    ['write tc_index', F.tc_index, 4, true, true],
    ['write tc_classid', F.tc_classid, 4, true, true],
    ['write queue_mapping', F.queue_mapping, 4, true, true],
    ['write cb[4]', F.cb + 16, 4, true, true],
    ['read cb u64', F.cb + 8, 8, false, true],
    ['read cb u64 past cb[4]', F.cb + 16, 8, false, false],
    ['write hash', F.hash, 4, true, false],
    ['read data', F.data, 4, false, true],
    ['narrow read data', F.data, 2, false, false],
    ['read data_meta', F.data_meta, 4, false, true],
    ['read family', F.family, 4, false, false],
    ['read remote_ip4', F.remote_ip4, 4, false, false],
    ['read local_port', F.local_port, 4, false, false],
    ['read flow_keys', F.flow_keys, 8, false, false],
    ['read tstamp', F.tstamp, 8, false, true],
    ['read tstamp u32', F.tstamp, 4, false, false],
    ['write tstamp', F.tstamp, 8, true, true],
    ['read sk', F.sk, 8, false, true],
    ['write sk', F.sk, 8, true, false],
    ['read tstamp_type', F.tstamp_type, 1, false, true],
    ['read tstamp_type u32', F.tstamp_type, 4, false, false],
    ['read padding', F.tstamp_type + 1, 1, false, false],
    ['read hwtstamp', F.hwtstamp, 8, false, true],
    ['write hwtstamp', F.hwtstamp, 8, true, false],
    ['read wire_len', F.wire_len, 4, false, true],
    ['read gso_size', F.gso_size, 4, false, true],
    ['past the end', F.SIZE, 4, false, false],
  ];
  it.each(rows)('%s', (_n, off, size, write, ok) => {
    expect(p(off, size, write)).toBe(ok);
  });
});

describe('bpf_sock through __sk_buff->sk (PTR_TO_SOCK_COMMON)', () => {
  const p = sockCommonPolicy();
  const rows: Array<[string, number, number, boolean, boolean]> = [
    ['family', S.family, 4, false, true],
    ['family narrow', S.family, 1, false, true],
    ['type', S.type, 4, false, false],
    ['protocol', S.protocol, 4, false, false],
    ['mark', S.mark, 4, false, false],
    ['priority', S.priority, 4, false, false],
    ['src_ip4', S.src_ip4, 4, false, true],
    ['src_ip6[3]', S.src_ip6 + 12, 4, false, true],
    ['dst_port u32', S.dst_port, 4, false, true],
    ['dst_port u16', S.dst_port, 2, false, true],
    ['dst_port padding', S.dst_port + 2, 2, false, false],
    ['state', S.state, 4, false, true],
    ['rx_queue_mapping', S.rx_queue_mapping, 4, false, true],
    ['bound_dev_if', S.bound_dev_if, 4, false, true],
    ['write family', S.family, 4, true, false],
    ['past the end', S.SIZE, 4, false, false],
  ];
  it.each(rows)('%s', (_n, off, size, write, ok) => {
    expect(p(off, size, write)).toBe(ok);
  });
});
