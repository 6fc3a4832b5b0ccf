/**
 * inline-lookup — lets the compiled engine do an ARRAY / PERCPU_ARRAY bpf_map_lookup_elem itself.
 *
 * The map helper (src/helpers/map.ts) registers its lookup function here with a resolver that
 * gives, for a map handle, the array's layout when that handle names an array map the helper
 * accepts (array_map_lookup_elem / percpu_array_map_lookup_elem compute the value address from
 * it). A compiled call site whose r1 is a constant handle resolves it once per helper table and
 * computes the address inline when the key lies in the stack frame; anything else calls the helper,
 * so faults and messages are the helper's. The vm layer cannot import the helpers, hence this
 * registry keyed by the helper function.
 */

/** ArrayLayout is where an array map's values live: value address = base + index * indexStride + cpu * cpuStride. */
export interface ArrayLayout {
  readonly base: number;
  readonly maxEntries: number;
  readonly keySize: number;
  readonly indexStride: number;
  readonly cpuStride: number;
}

type Resolver = (handle: number) => ArrayLayout | undefined;

const RESOLVERS = new WeakMap<object, Resolver>();

/** registerArrayLookup marks `helper` as a bpf_map_lookup_elem whose array lookups `resolve` describes. */
export function registerArrayLookup(helper: object, resolve: Resolver): void {
  RESOLVERS.set(helper, resolve);
}

/** arrayLookupLayout returns the layout of the array map `handle` when `helper` is a registered lookup that accepts it. */
export function arrayLookupLayout(helper: object | undefined, handle: number): ArrayLayout | undefined {
  if (helper === undefined) return undefined;
  const r = RESOLVERS.get(helper);
  return r === undefined ? undefined : r(handle);
}
