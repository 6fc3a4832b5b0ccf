/** cls_bpf direct-action verdict mapping (cls_bpf_exec_opcode). */
import { describe, expect, it } from 'vitest';
import { TcAction, clsBpfAction, tcActionName } from '../../src/hooks/tc.js';

describe('clsBpfAction', () => {
  const rows: Array<[number, number]> = [
    [0, TcAction.OK],
    [2, TcAction.SHOT],
    [4, TcAction.STOLEN],
    [7, TcAction.REDIRECT],
    [8, TcAction.TRAP],
    [1, TcAction.UNSPEC],
    [3, TcAction.UNSPEC],
    [5, TcAction.UNSPEC],
    [6, TcAction.UNSPEC],
    [9, TcAction.UNSPEC],
    [0xffffffff, TcAction.UNSPEC],
    [0x80000000, TcAction.UNSPEC],
  ];
  it.each(rows)('retval %d -> %d', (r, a) => {
    expect(clsBpfAction(r)).toBe(a);
  });
  it('names actions', () => {
    expect(tcActionName(7)).toBe('TC_ACT_REDIRECT');
    expect(tcActionName(-1)).toBe('TC_ACT_UNSPEC');
    expect(tcActionName(42)).toBe('TC_ACT_UNKNOWN(42)');
  });
});
