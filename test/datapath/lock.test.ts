/**
 * lock — a run that faults while holding a bpf_spin_lock does not leave the lock held for the
 * frames after it (test/datapath/programs/dp_lock.c), at XDP and at TC ingress, on every engine.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Disposition } from '../../src/datapath/accounting.js';
import { engineNames } from '../../src/vm/engines.js';
import { build, udpFrame } from './support.js';

const LOCK_OBJ = join(import.meta.dirname, 'programs', 'dp_lock.o');

describe.each(engineNames())('spin lock after a fault (%s)', (engine) => {
  // 14 + 28 + 8 bytes: data[100] is past data_end, so the program faults holding the lock.
  const short = udpFrame({ payload: 8 });
  const long = udpFrame({ payload: 100 });

  it('XDP: the frame after a faulted one locks again', () => {
    const t = build(['eth0'], { xdp: [`${LOCK_OBJ}:xdp_lock`] }, { engine });
    expect(t.run(short).disposition).toBe(Disposition.ABORTED);
    const r = t.run(long);
    expect(r.hooks[0]).toMatchObject({ hook: 'xdp', verdict: 'XDP_PASS' });
    expect(r.disposition).toBe(Disposition.HOST);
    expect(t.get('lockmap', 0)).toBe(0);
  });

  it('TC ingress: the frame after a faulted one locks again', () => {
    const t = build(['eth0'], { tcIngress: [`${LOCK_OBJ}:tc_lock`] }, { engine });
    expect(t.run(short).disposition).toBe(Disposition.ABORTED);
    const r = t.run(long);
    expect(r.hooks[0]).toMatchObject({ hook: 'tc-ingress', verdict: 'TC_ACT_OK' });
    expect(r.disposition).toBe(Disposition.HOST);
  });
});
