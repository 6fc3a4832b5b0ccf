/**
 * persist — keeping maps across runs in a directory, the role /sys/fs/bpf plays for pinned
 * maps. A map whose spec has pinning (LIBBPF_PIN_BY_NAME, iproute2 PIN_OBJECT_NS/PIN_GLOBAL_NS)
 * is saved to DIR/<name>.json in the --maps format and, on the next run, restored from there
 * before programs run. As libbpf refuses to reuse a pinned map whose definition changed
 * (map_is_reuse_compat: type, key size, value size, max_entries, flags), a mismatch is a
 * LoadError E_PIN_MISMATCH.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { LoadError } from '../errors.js';
import { PIN_NONE, mapTypeName } from './spec.js';
import type { MapBase } from './base.js';
import type { MapRegistry } from './registry.js';
import { dumpMap } from './dump.js';
import { clearMap, parseMapsJson, preloadMap } from './preload.js';

/** pinPath is the file a pinned map lives in. */
export function pinPath(dir: string, map: MapBase): string {
  if (/[/\\]|^\.\.?$/.test(map.spec.name)) {
    throw new LoadError('E_PIN_NAME', `map ${map.spec.name}: name cannot be used as a file name`, { symbol: map.spec.name });
  }
  return join(dir, `${map.spec.name}.json`);
}

/** pinnedMaps lists the maps of a registry that have pinning set. */
export function pinnedMaps(registry: MapRegistry): MapBase[] {
  return registry.allMaps().filter((m) => m.spec.pinning !== PIN_NONE);
}

/** saveMaps writes every pinned map to DIR/<name>.json (atomically: temp file + rename); returns the paths. */
export function saveMaps(registry: MapRegistry, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const paths: string[] = [];
  for (const map of pinnedMaps(registry)) {
    const path = pinPath(dir, map);
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, JSON.stringify(dumpMap(map, registry), null, 1) + '\n');
    renameSync(tmp, path);
    paths.push(path);
  }
  return paths;
}

/**
 * restoreMaps loads every pinned map that has a file in DIR, replacing its contents; returns the
 * names restored. Maps without a file start empty, as a first pin would.
 */
export function restoreMaps(registry: MapRegistry, dir: string): string[] {
  const restored: string[] = [];
  for (const map of pinnedMaps(registry)) {
    const path = pinPath(dir, map);
    if (!existsSync(path)) continue;
    const [dump] = parseMapsJson(readFileSync(path, 'utf8'), path);
    const s = map.spec;
    const same =
      dump.type === mapTypeName(s.type) &&
      dump.key_size === s.keySize &&
      dump.value_size === s.valueSize &&
      dump.max_entries === s.maxEntries &&
      dump.flags === s.flags;
    if (!same) {
      throw new LoadError('E_PIN_MISMATCH', `map ${s.name}: pinned map in ${path} has a different definition (type/key/value/max_entries/flags)`, {
        symbol: s.name,
        file: path,
      });
    }
    clearMap(map);
    preloadMap(registry, map, dump, path);
    restored.push(s.name);
  }
  return restored;
}
