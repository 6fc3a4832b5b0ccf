/**
 * accounting — what happened to every frame of a replay: each frame ends in exactly one
 * disposition, and the counters here add up to the frames in (checked by `balanced`). Hook
 * verdicts are counted per hook and program, frames out per interface, faults by program,
 * instruction and source line.
 */
import type { VmFault } from '../vm/fault.js';

/** Disposition is where a frame ended. */
export const Disposition = {
  /** Dropped by a program (XDP_DROP, an unknown XDP action, TC_ACT_SHOT) or by the datapath (failed redirect, runt). */
  DROP: 'drop',
  /** A program faulted or returned XDP_ABORTED. */
  ABORTED: 'aborted',
  /** XDP_TX: sent back out of the interface it came in on. */
  TX: 'tx',
  /** Left by another interface (XDP redirect, or a TC redirect to egress). */
  REDIRECT: 'redirect',
  /** Delivered to the host's network stack. */
  HOST: 'host',
  /** Delivered to an AF_XDP socket. */
  XSK: 'xsk',
  /** Taken by a TC program (TC_ACT_STOLEN, TC_ACT_TRAP, TC_ACT_QUEUED). */
  STOLEN: 'stolen',
  /** Stopped by the redirect loop guard. */
  LOOP: 'loop-limit',
} as const;
export type Disposition = (typeof Disposition)[keyof typeof Disposition];

/** DISPOSITIONS lists every disposition in summary order. */
export const DISPOSITIONS: readonly Disposition[] = Object.values(Disposition);

/** HookRun is one program run on a frame. */
export interface HookRun {
  /** xdp, tc-ingress, tc-egress, xdp-devmap, xdp-cpumap. */
  readonly hook: string;
  readonly iface: string;
  readonly program: string;
  /** r0 as u32 (0 after a fault). */
  readonly retval: number;
  /** XDP_PASS, TC_ACT_OK, ... as the datapath applied it. */
  readonly verdict: string;
  readonly fault?: VmFault;
}

/** OutFrame is a copy of a frame that left: by an interface, to the host or to a socket. */
export interface OutFrame {
  readonly iface: string;
  readonly data: Uint8Array;
  /** For AF_XDP sockets: the xskmap slot. */
  readonly xsk?: number;
}

/** FrameResult is everything the datapath did with one frame. */
export interface FrameResult {
  iface: string;
  queue: number;
  cpu: number;
  readonly hooks: HookRun[];
  disposition: Disposition;
  /** Where it was decided (xdp, tc-ingress@eth1, redirect, stack...) and why, for drops and the loop guard. */
  at?: string;
  reason?: string;
  readonly out: OutFrame[];
  /** Hops through redirects. */
  hops: number;
  /**
   * Set on the results Pipeline.count shares between frames that ended alike: a small index,
   * unique within the pipeline, under which Accounting counts such frames without reading them.
   */
  readonly tally?: number;
}

/** FaultCount counts the faults at one place in one program. */
export interface FaultCount {
  readonly program: string;
  readonly insn: number;
  readonly source?: string;
  readonly code: string;
  readonly message: string;
  count: number;
  firstFrame: number;
}

/** RECENT is how many recently used keys a Counter checks by identity before its Map. */
const RECENT = 8;

/**
 * Counter counts by key. The keys a replay counts are a handful of constant strings (verdicts,
 * dispositions, interface names) that alternate frame by frame, so `inc` first scans the last
 * RECENT keys it was given by `===` (a pointer compare for the same string) and only then hashes
 * into the Map. Measured on a capture alternating PASS and DROP: a Map lookup per count, or one
 * remembered key, made counting a tenth of the per-frame cost of a replay.
 */
export class Counter {
  private readonly cells = new Map<string, { n: number }>();
  private readonly recentKeys: string[] = [];
  private readonly recentCells: Array<{ n: number }> = [];
  private next = 0;

  /** inc adds one to `key`. */
  inc(key: string): void {
    const keys = this.recentKeys;
    for (let i = 0; i < keys.length; i++) {
      if (keys[i] === key) {
        this.recentCells[i].n++;
        return;
      }
    }
    let c = this.cells.get(key);
    if (c === undefined) this.cells.set(key, (c = { n: 0 }));
    c.n++;
    if (keys.length < RECENT) {
      keys.push(key);
      this.recentCells.push(c);
    } else {
      keys[this.next] = key;
      this.recentCells[this.next] = c;
      this.next = (this.next + 1) % RECENT;
    }
  }

  /** cell is the count of `key` as an object whose `n` Accounting may add to (the key must have been counted). */
  cell(key: string): { n: number } {
    const c = this.cells.get(key);
    if (c === undefined) throw new Error(`Counter.cell: ${key} was never counted`);
    return c;
  }

  /** add adds `n` to `key` (merging the counts of --workers threads). */
  add(key: string, n: number): void {
    let c = this.cells.get(key);
    if (c === undefined) this.cells.set(key, (c = { n: 0 }));
    c.n += n;
  }

  /** get returns the count of `key`. */
  get(key: string): number | undefined {
    return this.cells.get(key)?.n;
  }

  /** entries lists the keys and counts in first-seen order. */
  *entries(): IterableIterator<[string, number]> {
    for (const [k, c] of this.cells) yield [k, c.n];
  }

  /** size is the number of keys. */
  get size(): number {
    return this.cells.size;
  }

  /** values lists the counts. */
  *values(): IterableIterator<number> {
    for (const c of this.cells.values()) yield c.n;
  }
}

/** Accounting accumulates the counters of a replay. */
export class Accounting {
  framesIn = 0;
  bytesIn = 0;
  readonly dispositions = new Counter();
  /** "hook program" → verdict → count. */
  readonly verdicts = new Map<string, Counter>();
  /** interface → frames out (tx and redirect). */
  readonly framesOut = new Counter();
  readonly delivered = new Counter();
  /** "at: reason" → count, for drops. */
  readonly dropReasons = new Counter();
  readonly faults = new Map<string, FaultCount>();
  private lastHook = '';
  private lastProgram = '';
  private lastVerdicts: Counter | undefined;
  /** The last few (at, reason) pairs and their dropReasons keys, so a drop builds no string. */
  private readonly reasonAt: string[] = [];
  private readonly reasonWhy: Array<string | undefined> = [];
  private readonly reasonKey: string[] = [];
  /** By tally: the shared result counted there, and the counter cells one more such frame adds one to. */
  private readonly tallied: Array<FrameResult | undefined> = [];
  private readonly tallyCells: Array<Array<{ n: number }>> = [];

  /** add counts one finished frame. */
  add(index: number, len: number, r: FrameResult): void {
    const t = r.tally;
    if (t !== undefined && this.tallied[t] === r) {
      // A shared result seen before: its keys are counted already, in first-seen order.
      this.framesIn++;
      this.bytesIn += len;
      const cells = this.tallyCells[t];
      for (let i = 0; i < cells.length; i++) cells[i].n++;
      return;
    }
    this.count(index, len, r);
    if (t !== undefined) this.remember(t, r);
  }

  /** remember notes the counter cells that a frame with the shared result `r` adds to. */
  private remember(t: number, r: FrameResult): void {
    const d = r.disposition;
    const cells = [this.dispositions.cell(d)];
    for (const h of r.hooks) {
      if (h.fault !== undefined) return; // counted by place, first frame and all: never shared
      const m = this.verdicts.get(`${h.hook} ${h.program}`);
      if (m === undefined) return;
      cells.push(m.cell(h.verdict));
    }
    const outs = d === Disposition.HOST || d === Disposition.XSK ? this.delivered : this.framesOut;
    for (const o of r.out) cells.push(outs.cell(o.iface));
    if (r.at !== undefined && (d === Disposition.DROP || d === Disposition.LOOP)) cells.push(this.dropReasons.cell(this.reasonKeyOf(r.at, r.reason)));
    while (this.tallied.length <= t) {
      this.tallied.push(undefined);
      this.tallyCells.push([]);
    }
    this.tallied[t] = r;
    this.tallyCells[t] = cells;
  }

  /** count counts one finished frame field by field. */
  private count(index: number, len: number, r: FrameResult): void {
    this.framesIn++;
    this.bytesIn += len;
    const d = r.disposition;
    this.dispositions.inc(d);
    const hooks = r.hooks;
    for (let i = 0; i < hooks.length; i++) {
      const h = hooks[i];
      let m = this.lastVerdicts;
      if (m === undefined || h.hook !== this.lastHook || h.program !== this.lastProgram) {
        const key = `${h.hook} ${h.program}`;
        m = this.verdicts.get(key);
        if (m === undefined) this.verdicts.set(key, (m = new Counter()));
        this.lastVerdicts = m;
        this.lastHook = h.hook;
        this.lastProgram = h.program;
      }
      m.inc(h.verdict);
      if (h.fault !== undefined) this.addFault(h.fault, index);
    }
    if (r.out.length > 0) {
      const outs = d === Disposition.HOST || d === Disposition.XSK ? this.delivered : this.framesOut;
      for (const o of r.out) outs.inc(o.iface);
    }
    if (r.at !== undefined && (d === Disposition.DROP || d === Disposition.LOOP)) {
      this.dropReasons.inc(this.reasonKeyOf(r.at, r.reason));
    }
  }

  /** reasonKeyOf is "at: reason", the same string object for a pair seen recently. */
  private reasonKeyOf(at: string, reason: string | undefined): string {
    const ats = this.reasonAt;
    for (let i = 0; i < ats.length; i++) if (ats[i] === at && this.reasonWhy[i] === reason) return this.reasonKey[i];
    const key = `${at}: ${reason ?? 'dropped'}`;
    if (ats.length >= RECENT) {
      ats.shift();
      this.reasonWhy.shift();
      this.reasonKey.shift();
    }
    ats.push(at);
    this.reasonWhy.push(reason);
    this.reasonKey.push(key);
    return key;
  }

  private addFault(f: VmFault, index: number): void {
    const fk = `${f.program}#${f.insn}#${f.code}`;
    const have = this.faults.get(fk);
    if (have !== undefined) have.count++;
    else this.faults.set(fk, { program: f.program, insn: f.insn, source: f.source, code: f.code, message: f.message, count: 1, firstFrame: index });
  }

  /** balanced tells whether the dispositions add up to the frames in. */
  balanced(): boolean {
    let n = 0;
    for (const c of this.dispositions.values()) n += c;
    return n === this.framesIn;
  }
}
