/** util — shared helpers for map tests: a registry on fresh memory, spec builders, byte helpers. */
import { Memory } from '../../src/vm/memory.js';
import { MapRegistry } from '../../src/maps/registry.js';
import type { MapSpec } from '../../src/maps/spec.js';

/** newRegistry creates a registry on a fresh address space. */
export function newRegistry(cpus = 2): MapRegistry {
  return new MapRegistry(new Memory(), { cpus });
}

/** spec builds a MapSpec with defaults for the fields a test does not care about. */
export function spec(p: Partial<MapSpec> & Pick<MapSpec, 'type'>): MapSpec {
  return { name: 'm', keySize: 4, valueSize: 8, maxEntries: 4, flags: 0, pinning: 0, ...p };
}

/** u32 encodes a little-endian u32 key or value. */
export function u32(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

/** u64 encodes a little-endian u64 value. */
export function u64(v: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
  return b;
}

/** bytes builds a Uint8Array from numbers. */
export function bytes(...v: number[]): Uint8Array {
  return Uint8Array.from(v);
}

/** readU32 decodes a little-endian u32. */
export function readU32(b: Uint8Array, off = 0): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(off, true);
}
